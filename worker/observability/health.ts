import { HEALTH_STORE_DEADLINE_MS, KV_HEALTH_PROBE_KEY } from "../limits";
import { withDeadline } from "../util/deadline";
import { errorKind } from "../util/error-kind";
import { log } from "./log";

/**
 * Whether D1 and KV both answer a trivial read within HEALTH_STORE_DEADLINE_MS: a query that reads no
 * row and a KV key nothing writes. A store that fails or is too slow is logged with its error's kind;
 * the caller only learns yes or no.
 */
export async function storesAnswer(env: Pick<Env, "DB" | "TOKEN_CACHE">): Promise<boolean> {
  const probes: { store: "d1" | "kv"; probe: () => Promise<unknown> }[] = [
    { store: "d1", probe: () => env.DB.prepare("SELECT 1").first() },
    { store: "kv", probe: () => env.TOKEN_CACHE.get(KV_HEALTH_PROBE_KEY) },
  ];
  // `then` turns a binding that throws at the call into a rejected probe, not a 500.
  const results = await Promise.allSettled(
    probes.map(({ probe }) => withDeadline(Promise.resolve().then(probe), HEALTH_STORE_DEADLINE_MS)),
  );
  let healthy = true;
  for (const [i, { store }] of probes.entries()) {
    const result = results[i];
    if (result?.status !== "rejected") continue;
    healthy = false;
    log.error("store.error", { store, op: "health.probe", error: errorKind(result.reason) });
  }
  return healthy;
}
