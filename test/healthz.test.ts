import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HEALTH_STORE_DEADLINE_MS } from "../worker/limits";
import { envWithFailing } from "./support/failing";
import { countingEnv, type IoCall } from "./support/io";
import { viaHandler } from "./support/verify-client";

// Issue 13, item 4: GET /healthz answers 200 when D1 and KV both answer within
// HEALTH_STORE_DEADLINE_MS and 503 otherwise, saying nothing else, never cached.

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const health = (bindings: Env = env, host = "tessera.test") => viaHandler(`https://${host}/healthz`, bindings);

async function expectAnswer(res: Response, status: number, body: unknown) {
  expect(res.status).toBe(status);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await res.json()).toEqual(body);
}

/** Lets the worker reach its `setTimeout` (the deadline) without moving the fake clock. */
async function deadlineArmed() {
  for (let i = 0; i < 1000 && vi.getTimerCount() < 2; i++) await Promise.resolve();
  expect(vi.getTimerCount()).toBeGreaterThan(0);
}

/** The env whose `binding` never answers its probe. */
function stalling(binding: IoCall["binding"]): Env {
  const { env: slow, log } = countingEnv();
  log.around = (call, proceed) => (call.binding === binding ? new Promise(() => {}) : proceed());
  return slow;
}

describe("GET /healthz", () => {
  it("answers 200 ok, uncached, to anyone, when D1 and KV answer", async () => {
    await expectAnswer(await health(), 200, { status: "ok" });
  });

  for (const binding of ["DB", "TOKEN_CACHE"] as const) {
    it(`answers 503 unavailable, and nothing more, when ${binding} fails; the log says which and why`, async () => {
      const errors: unknown[] = [];
      vi.spyOn(console, "error").mockImplementation((line) => void errors.push(line));
      await expectAnswer(await health(envWithFailing(binding).env), 503, { status: "unavailable" });
      expect(errors).toEqual([
        expect.objectContaining({
          event: "store.error",
          store: binding === "DB" ? "d1" : "kv",
          op: "health.probe",
          error: expect.any(String),
        }),
      ]);
    });

    it(`answers 503 when ${binding} is slower than HEALTH_STORE_DEADLINE_MS, and not a moment before`, async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      let answered: Response | null = null;
      const pending = health(stalling(binding)).then((res) => {
        answered = res;
        return res;
      });
      await deadlineArmed();
      await vi.advanceTimersByTimeAsync(HEALTH_STORE_DEADLINE_MS - 1);
      expect(answered).toBeNull();
      await vi.advanceTimersByTimeAsync(1);
      vi.useRealTimers();
      await expectAnswer(await pending, 503, { status: "unavailable" });
    });
  }

  it("is served on the main host only when the gateway has its own (GATEWAY_HOSTNAME)", async () => {
    const split = { ...env, GATEWAY_HOSTNAME: "gw.tessera.test" } as unknown as Env;
    await expectAnswer(await health(split), 200, { status: "ok" });
    expect((await health(split, "gw.tessera.test")).status).toBe(404);
  });
});
