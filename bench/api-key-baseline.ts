import { createMiddleware } from "hono/factory";

// The way API keys are commonly validated in a Hono worker on KV, as the "how many times faster"
// baseline: the key is looked up as it is sent (no hash), a per-minute rate-limit counter is read and
// written back, and the key's organization record is read for its settings. 3 KV reads and 1 KV write
// per request, the write awaited as such middleware does. The records live only in the bench's
// in-memory KV, under the bench's throwaway secrets.

const KEY_PREFIX = "bench-apikey:";
const ORG_PREFIX = "bench-apiorg:";
const COUNTER_PREFIX = "bench-apirate:";
const WINDOW_MS = 60_000;
/** High enough that the bench's own traffic is never refused: it measures the work, not the limit. */
const REQUESTS_PER_WINDOW = 10_000_000;

interface ApiKeyRecord {
  id: string;
  orgId: string;
  permissions: string[];
}

interface OrgRecord {
  id: string;
  disabled: boolean;
}

export type ApiKeyVariables = { apiKey: ApiKeyRecord };

export const apiKeyAuth = createMiddleware<{ Bindings: Env; Variables: ApiKeyVariables }>(async (c, next) => {
  const key = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
  if (!key) return c.json({ error: "missing API key" }, 401);
  const kv = c.env.TOKEN_CACHE;
  const record = await kv.get<ApiKeyRecord>(KEY_PREFIX + key, "json");
  if (!record) return c.json({ error: "invalid API key" }, 401);
  const counterKey = `${COUNTER_PREFIX}${record.id}:${Math.floor(Date.now() / WINDOW_MS)}`;
  const count = Number((await kv.get(counterKey)) ?? 0);
  if (count >= REQUESTS_PER_WINDOW) return c.json({ error: "rate limited" }, 429);
  const org = await kv.get<OrgRecord>(ORG_PREFIX + record.orgId, "json");
  if (!org || org.disabled) return c.json({ error: "organization disabled" }, 403);
  await kv.put(counterKey, String(count + 1), { expirationTtl: (2 * WINDOW_MS) / 1000 });
  c.set("apiKey", record);
  await next();
});

/** The records the middleware reads, for the seeded tokens (their secrets used as the plain keys). */
export async function seedApiKeys(
  kv: KVNamespace,
  orgId: string,
  keys: { id: string; secret: string }[],
  permissions: readonly string[],
): Promise<void> {
  await kv.put(ORG_PREFIX + orgId, JSON.stringify({ id: orgId, disabled: false } satisfies OrgRecord));
  await Promise.all(
    keys.map((k) =>
      kv.put(
        KEY_PREFIX + k.secret,
        JSON.stringify({ id: k.id, orgId, permissions: [...permissions] } satisfies ApiKeyRecord),
      ),
    ),
  );
}
