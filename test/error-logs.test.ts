import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { errorKind } from "../worker/util/error-kind";
import { ORIGIN, OWNER, setupOwner } from "./support/api-client";
import { countingEnv } from "./support/io";
import { viaHandler } from "./support/verify-client";

// Issue 11, item 13: a failed query's log line names the error's class, the route and a request
// id, never the SQL's bound values (drizzle puts them in its message: "Failed query: … params: …").

/** A value the failing insert binds: it must not appear in any log line. */
const CANARY = `canary-${crypto.randomUUID()}`;
/** What D1 says when it gives up on a write; the codes are safe to log, the text between need not be. */
const D1_FAILURE = `D1_ERROR: database or disk is full (while writing ${CANARY}): SQLITE_FULL`;

beforeAll(async () => {
  await setupOwner();
});
afterEach(() => vi.restoreAllMocks());

function captureConsole(): () => string {
  const lines: string[] = [];
  const text = (arg: unknown) =>
    arg instanceof Error
      ? `${arg.name}: ${arg.message}\n${arg.stack ?? ""}`
      : typeof arg === "string"
        ? arg
        : JSON.stringify(arg);
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(text).join(" ")));
  }
  return () => lines.join("\n");
}

/** A login whose session insert fails in D1, with the canary bound (as the User-Agent). */
async function failingLogin(headers: Record<string, string> = {}) {
  const { env: bindings, log } = countingEnv();
  log.around = (call, proceed) =>
    call.binding === "DB" && /^insert into "sessions"/i.test(call.detail)
      ? Promise.reject(new Error(D1_FAILURE))
      : proceed();
  const request = new Request(`${ORIGIN}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": CANARY, ...headers },
    body: JSON.stringify({ email: OWNER.email, password: OWNER.password }),
  });
  return viaHandler(request, bindings);
}

describe("the log line of a failed query", () => {
  it("names the error's class, the D1 codes, the route and the cf-ray, and no bound value", async () => {
    const printed = captureConsole();
    const res = await failingLogin({ "cf-ray": "8f00c0ffee000001-AMS" });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain(CANARY);

    const output = printed();
    expect(output).not.toContain(CANARY);
    expect(output).not.toMatch(/params:|Failed query|insert into/i);
    const line = output.split("\n").find((l) => l.includes('"request.unhandled"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line ?? "null")).toEqual({
      event: "request.unhandled",
      requestId: "8f00c0ffee000001-AMS",
      method: "POST",
      route: "/api/session",
      error: "DrizzleQueryError (D1_ERROR, SQLITE_FULL)",
    });
  });

  it("makes up a request id when Cloudflare sent none, a new one each time", async () => {
    const printed = captureConsole();
    await failingLogin();
    await failingLogin();
    const ids = printed()
      .split("\n")
      .filter((l) => l.includes('"request.unhandled"'))
      .map((l) => /"requestId":"([0-9a-f-]{36})"/.exec(l)?.[1]);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBeDefined();
    expect(ids[0]).not.toBe(ids[1]);
  });
});

describe("errorKind: what a log line may say about an error", () => {
  it("is the class and the codes D1 gave, from the error or its cause, never the message", () => {
    const d1 = new Error(D1_FAILURE);
    expect(errorKind(d1)).toBe("Error (D1_ERROR, SQLITE_FULL)");
    class DrizzleQueryError extends Error {}
    const wrapped = new DrizzleQueryError(`Failed query: insert into "x" values (?)\nparams: ${CANARY}`, { cause: d1 });
    expect(errorKind(wrapped)).toBe("DrizzleQueryError (D1_ERROR, SQLITE_FULL)");
    expect(errorKind(new TypeError(`bad ${CANARY}`))).toBe("TypeError");
    expect(errorKind(`a string ${CANARY}`)).toBe("string");
    // A code-looking bound value inside the text is not a code.
    expect(errorKind(new Error(`D1_TYPE_ERROR: Type 'object' not supported for value 'SQLITE_${CANARY}'`))).toBe(
      "Error (D1_TYPE_ERROR)",
    );
  });
});
