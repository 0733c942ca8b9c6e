// `npm run soak` (`npm run bench -- --soak`): mixed traffic against the bench build for a fixed time,
// every answer checked against the one status and result code its request must get. A cron run in
// the middle, management writes throughout, and the revocation check: a hot token revoked mid-run
// fails on its very next verify in the same instance. Passes with 0 unexpected answers and 0 errors.
import { randomInt } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { eachLimited, post } from "./harness.mjs";
import { machine } from "./report.mjs";

const LANES = 16;
const PERMISSION = "analysis:execute";
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const GARBAGE = `${BASE62}_-.~!*`;

const randomOf = (alphabet, length) => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("");
const pick = (items) => items[randomInt(items.length)];

/** A well-formed token no one issued (docs/DESIGN.md 2: prefix, 30 random base62, 6 base62 of CRC32). */
function unknownToken() {
  const body = `tso_${randomOf(BASE62, 30)}`;
  let value = crc32(body);
  let check = "";
  for (let i = 0; i < 6; i++) {
    check = BASE62[value % 62] + check;
    value = Math.floor(value / 62);
  }
  return body + check;
}

const bearer = (secret, extra = {}) => ({ authorization: `Bearer ${secret}`, ...extra });
const verifyPath = (project, permission = PERMISSION) =>
  `/v1/verify?permission=${permission}&project=${encodeURIComponent(project)}`;

export async function runSoak({ mf, url, org, tokens, errors, seconds, quick, log }) {
  const admin = await post(url, "/__bench/admin-token", { org });
  const revocationTarget = tokens[0];
  const pool = tokens.slice(1);
  const named = pool.filter((t) => t.projects !== "*");
  const projectOf = (t) => (t.projects === "*" ? pick(org.projectKeys) : pick(t.projects));
  const api = `/api/orgs/${org.orgSlug}/tokens`;
  const adminHeaders = { ...bearer(admin.secret), "content-type": "application/json" };

  const stats = {};
  const unexpected = [];
  let networkErrors = 0;

  /** Sends one request and checks its status (and `result`, on the verify surface). Answers the body. */
  async function send(kind, { method = "GET", path, headers = {}, body }, expect) {
    stats[kind] ??= { requests: 0, statuses: {} };
    const entry = stats[kind];
    entry.requests++;
    let res;
    let answer;
    try {
      res = await fetch(new URL(path, url), { method, headers, body });
      answer = res.status === 204 ? null : await res.json();
    } catch (err) {
      networkErrors++;
      if (unexpected.length < 20) unexpected.push({ kind, path, error: String(err) });
      return null;
    }
    entry.statuses[res.status] = (entry.statuses[res.status] ?? 0) + 1;
    const resultOk = expect.result === undefined || answer?.result === expect.result;
    if (res.status !== expect.status || !resultOk) {
      if (unexpected.length < 20)
        unexpected.push({
          kind,
          method,
          path: path.replace(/session=[^&]*/, "session=…"),
          status: res.status,
          answer,
          expect,
        });
      else unexpected.push(null);
      return null;
    }
    return answer;
  }

  const valid = { status: 200, result: 0 };
  const traffic = [
    [
      40,
      "verify: hit",
      () => {
        const t = pick(pool);
        return send("verify: hit", { path: verifyPath(projectOf(t)), headers: bearer(t.secret) }, valid);
      },
    ],
    [
      8,
      "verify: from KV",
      () => {
        const t = pick(pool);
        return send(
          "verify: from KV",
          { path: verifyPath(projectOf(t)), headers: bearer(t.secret, { "x-bench-cold": "memory" }) },
          valid,
        );
      },
    ],
    [
      4,
      "verify: full miss",
      () => {
        const t = pick(pool);
        return send(
          "verify: full miss",
          { path: verifyPath(projectOf(t)), headers: bearer(t.secret, { "x-bench-cold": "kv" }) },
          valid,
        );
      },
    ],
    [
      8,
      "verify: unknown token",
      () =>
        send(
          "verify: unknown token",
          { path: verifyPath(org.projectKeys[0]), headers: bearer(unknownToken()) },
          { status: 401, result: 3 },
        ),
    ],
    [
      10,
      "verify: garbage",
      () =>
        send(
          "verify: garbage",
          { path: `/v1/verify?session=${encodeURIComponent(randomOf(GARBAGE, 1 + randomInt(60)))}` },
          { status: 401, result: 2 },
        ),
    ],
    [
      3,
      "verify: no token",
      () => send("verify: no token", { path: verifyPath(org.projectKeys[0]) }, { status: 401, result: 1 }),
    ],
    [
      5,
      "verify: permission denied",
      () => {
        const t = pick(pool);
        return send(
          "verify: permission denied",
          { path: verifyPath(projectOf(t), "issues:write"), headers: bearer(t.secret) },
          { status: 403, result: 7 },
        );
      },
    ],
    [
      5,
      "verify: project out of scope",
      () => {
        const t = pick(named);
        const outside = org.projectKeys.find((k) => !t.projects.includes(k));
        return send(
          "verify: project out of scope",
          { path: verifyPath(outside), headers: bearer(t.secret) },
          { status: 403, result: 8 },
        );
      },
    ],
    [
      3,
      "verify: two tokens",
      () => {
        const [a, b] = [pick(pool), pick(pool)];
        return send(
          "verify: two tokens",
          { path: `/v1/verify?session=${b === a ? unknownToken() : b.secret}`, headers: bearer(a.secret) },
          { status: 400, result: 11 },
        );
      },
    ],
    [
      3,
      "verify: bad body",
      () =>
        send(
          "verify: bad body",
          {
            method: "POST",
            path: "/v1/verify",
            headers: bearer(pick(pool).secret, { "content-type": "application/json" }),
            body: "{",
          },
          { status: 400, result: 11 },
        ),
    ],
    [
      6,
      "gateway",
      () => send("gateway", { path: "/gw/bench/v1/items", headers: bearer(pick(pool).secret) }, { status: 200 }),
    ],
    [
      5,
      "management writes",
      async () => {
        const made = await send(
          "management writes",
          {
            method: "POST",
            path: api,
            headers: adminHeaders,
            body: JSON.stringify({
              kind: "org",
              name: "soak",
              expiresAt: null,
              projects: "*",
              permissions: [PERMISSION],
            }),
          },
          { status: 201 },
        );
        if (!made) return;
        await send("verify: new token", { path: verifyPath(org.projectKeys[0]), headers: bearer(made.secret) }, valid);
        await send(
          "management writes",
          {
            method: "PATCH",
            path: `${api}/${made.token.id}`,
            headers: adminHeaders,
            body: JSON.stringify({ name: "soak, renamed" }),
          },
          { status: 200 },
        );
        await send(
          "management writes",
          { method: "POST", path: `${api}/${made.token.id}/revoke`, headers: adminHeaders },
          { status: 200 },
        );
        await send(
          "verify: just revoked",
          { path: verifyPath(org.projectKeys[0]), headers: bearer(made.secret) },
          { status: 401, result: 6 },
        );
      },
    ],
  ];
  const totalWeight = traffic.reduce((n, [w]) => n + w, 0);
  const nextRequest = () => {
    let roll = randomInt(totalWeight);
    for (const [weight, , run] of traffic) {
      roll -= weight;
      if (roll < 0) return run();
    }
    throw new Error("unreachable");
  };

  const machineAtStart = machine();
  const startedAt = Date.now();
  const deadline = startedAt + seconds * 1000;
  const checks = { cron: "not run", revocation: "not run" };

  async function revocationCheck() {
    const path = verifyPath(projectOf(revocationTarget));
    for (let i = 0; i < 3; i++)
      await send("revocation check", { path, headers: bearer(revocationTarget.secret) }, valid);
    const revoked = await send(
      "revocation check",
      { method: "POST", path: `${api}/${revocationTarget.id}/revoke`, headers: adminHeaders },
      { status: 200 },
    );
    const next = await send(
      "revocation check",
      { path, headers: bearer(revocationTarget.secret) },
      { status: 401, result: 6 },
    );
    checks.revocation =
      revoked && next ? "passed: 200 before, 401 code 6 on the first verify after the revoke" : "FAILED";
    log(`revocation check ${checks.revocation}`);
  }

  async function cronRun() {
    const worker = await mf.getWorker();
    const outcome = await worker.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
    checks.cron = outcome.outcome === "ok" ? "passed: outcome ok" : `FAILED: ${JSON.stringify(outcome)}`;
    log(`cron run mid-soak ${checks.cron}`);
  }

  const timed = [
    [seconds / 3, revocationCheck],
    [seconds / 2, cronRun],
  ];
  const events = Promise.all(timed.map(([at, fn]) => new Promise((r) => setTimeout(r, at * 1000)).then(fn)));
  const lanes = Array.from({ length: LANES }, (_, i) => i);
  await eachLimited(lanes, LANES, async () => {
    while (Date.now() < deadline) await nextRequest();
  });
  await events;

  const elapsed = (Date.now() - startedAt) / 1000;
  const requests = Object.values(stats).reduce((n, s) => n + s.requests, 0);
  const summary = {
    date: new Date().toISOString(),
    machine: machineAtStart,
    seconds: Math.round(elapsed),
    requests,
    rps: Math.round(requests / elapsed),
    unexpectedStatuses: unexpected.length,
    networkErrors,
    workerErrors: errors.length,
    checks,
    byKind: stats,
    firstUnexpected: unexpected.filter(Boolean).slice(0, 10),
    firstWorkerErrors: errors.slice(0, 5),
  };
  console.log("");
  for (const [kind, s] of Object.entries(stats))
    console.log(`${kind.padEnd(30)} ${String(s.requests).padStart(7)}  ${JSON.stringify(s.statuses)}`);
  console.log(
    `\nsoak: ${requests} requests in ${summary.seconds} s (${summary.rps} req/s): ${summary.unexpectedStatuses} unexpected statuses, ` +
      `${networkErrors} network errors, ${errors.length} worker errors; cron ${checks.cron}; revocation ${checks.revocation}`,
  );
  for (const u of summary.firstUnexpected) console.log(`unexpected: ${JSON.stringify(u)}`);
  for (const e of summary.firstWorkerErrors) console.log(`worker error: ${e}`);
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    quick ? "bench/results/soak-quick.json.tmp" : "bench/results/soak.json",
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  return (
    summary.unexpectedStatuses === 0 &&
    networkErrors === 0 &&
    errors.length === 0 &&
    checks.cron.startsWith("passed") &&
    checks.revocation.startsWith("passed")
  );
}
