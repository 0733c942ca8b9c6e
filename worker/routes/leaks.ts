import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../auth/guards";
import type { AppEnv } from "../env";
import { nowOf, sessionOf, storeEnvOf } from "../http/context";
import {
  alertOrganizations,
  type LeakItem,
  type LeakReport,
  MAX_LEAKS_PER_REPORT,
  type Reporter,
  reportLeaks,
} from "../leaks/report";
import { readReportingKeys, SIGNATURE_HEADERS, verifyReportSignature } from "../leaks/signature";
import { log } from "../observability/log";
import { errorKind } from "../util/error-kind";
import { validate } from "./api/validate";

/** GitHub's batches are small; a signed body larger than this is refused before its signature is checked. */
const GITHUB_REPORT_MAX_BYTES = 256 * 1024;

const leakItem = z.object({
  token: z.string().min(1).max(1_000),
  type: z.string().max(200).optional(),
  url: z.string().max(2_000).optional(),
  source: z.string().max(200).optional(),
});
/**
 * GitHub's report: as many items as fit in GITHUB_REPORT_MAX_BYTES. GitHub sends what it found in
 * one batch and cannot split a refused one, so a large report is processed whole, its store lookups
 * in slices (worker/tokens/lookup.ts) and its revocations in one bulk kill per organization.
 */
const githubReport = z.array(leakItem).min(1, "must list at least one token");
/** An admin's report, from the console or a script that can send a long list in several calls. */
const leakList = githubReport.max(MAX_LEAKS_PER_REPORT, `must list at most ${MAX_LEAKS_PER_REPORT} tokens`);

/** The partner endpoint's own small error body: GitHub reads the status, a person reads the message. */
function refusal(status: 400 | 401 | 413, error: string, message: string): Response {
  return new Response(JSON.stringify({ error, message }), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

/** Revokes, then alerts the organizations after the answer: a slow webhook receiver must not delay the reporter. */
async function handleReport(c: Context<AppEnv>, items: LeakItem[], reporter: Reporter): Promise<LeakReport> {
  const now = nowOf(c);
  const report = await reportLeaks(storeEnvOf(c), items, reporter, now);
  c.executionCtx.waitUntil(
    alertOrganizations(sessionOf(c), report.alerts, now).catch((err: Error) =>
      log.error("leak.alert_failed", { error: errorKind(err) }),
    ),
  );
  return report;
}

/** `POST /leaks/github`: GitHub's secret-scanning partner program, signed with GitHub's keys. */
export const leakRoutes = new Hono<AppEnv>().post(
  "/leaks/github",
  bodyLimit({
    maxSize: GITHUB_REPORT_MAX_BYTES,
    onError: () => refusal(413, "payload_too_large", "The report is too large."),
  }),
  async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const signed = await verifyReportSignature(
      readReportingKeys(c.env.LEAK_REPORT_PUBLIC_KEYS),
      c.req.header(SIGNATURE_HEADERS.keyId) ?? null,
      c.req.header(SIGNATURE_HEADERS.signature) ?? null,
      body,
    );
    if (!signed)
      return refusal(401, "invalid_signature", "The report is not signed by a configured GitHub secret-scanning key.");

    let parsed: z.infer<typeof githubReport>;
    try {
      const result = githubReport.safeParse(JSON.parse(new TextDecoder().decode(body)));
      if (!result.success)
        return refusal(400, "invalid_request", "The body must be a JSON array of {token, type, url, source}.");
      parsed = result.data;
    } catch {
      return refusal(400, "invalid_request", "The body is not JSON.");
    }

    const report = await handleReport(c, parsed, {
      kind: "github",
      actor: { type: "system", id: null, ip: c.get("clientIp") },
    });
    // GitHub's false-positive feedback format, with hashes: the answer never repeats a secret.
    return c.json(
      report.verdicts.map((v) => ({
        token_hash: v.sha256,
        token_type: v.type ?? "tessera_token",
        label: v.result === "not_found" ? "false_positive" : "true_positive",
      })),
      200,
      { "Cache-Control": "no-store" },
    );
  },
);

/** `POST /api/orgs/:org/leaks`: the same report from anywhere else, by an organization admin, for its own tokens. */
export const orgLeakRoutes = new Hono<AppEnv>().post(
  "/:org/leaks",
  orgAccess("admin", "manage:tokens"),
  requireSudo,
  validate("json", leakList),
  async (c) => {
    const report = await handleReport(c, c.req.valid("json"), {
      kind: "admin",
      orgId: c.get("org").id,
      actor: actorOf(c),
    });
    return c.json({
      results: report.verdicts.map((v) => ({ sha256: v.sha256, result: v.result, tokenId: v.tokenId })),
    });
  },
);
