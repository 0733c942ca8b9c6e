// Every TTL, interval and size limit of the worker, in one place.

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** A token expiring sooner than this is "About to expire" (docs/DESIGN.md §2). */
export const EXPIRING_WINDOW_MS = 7 * DAY_MS;

/** Isolate memory tier: short, because other isolates only learn of a revocation through KV. */
export const MEMORY_CACHE_TTL_MS = 5 * SECOND_MS;
export const MEMORY_NEGATIVE_TTL_MS = 5 * SECOND_MS;
/** Bounds the isolate's memory: past this the oldest entries are dropped first. */
export const MEMORY_CACHE_MAX_ENTRIES = 20_000;
/**
 * Every memory tier together holds at most this many bytes (counted as in worker/cache/memory-tier.ts),
 * a quarter of a production isolate's 128 MB, shared out below.
 */
export const MEMORY_TIERS_MAX_BYTES = 32 * 1024 * 1024;
export const MEMORY_TOKEN_MAX_BYTES = 24 * 1024 * 1024;
export const MEMORY_UPSTREAM_MAX_BYTES = 4 * 1024 * 1024;
export const MEMORY_PROJECT_MAX_BYTES = MEMORY_TIERS_MAX_BYTES - MEMORY_TOKEN_MAX_BYTES - MEMORY_UPSTREAM_MAX_BYTES;

/** KV tier, keyed by token hash. KV refuses TTLs under 60 s. */
export const KV_TOKEN_TTL_S = 5 * 60;
export const KV_NEGATIVE_TTL_S = 60;
export const KV_TOKEN_KEY_PREFIX = "t:";
/** Keys one KV bulk read (`get` of a list) takes at most. */
export const KV_BULK_READ_MAX_KEYS = 100;

/**
 * Gateway upstream configurations: isolate memory, then KV by name, then D1. Every change overwrites
 * both tiers (a deletion leaves a tombstone), so a KV copy is re-read from D1 after
 * KV_UPSTREAM_FRESH_MS only as a safety net, in the background. The copy itself is kept far longer
 * so that a D1 outage serves the last known configuration instead of refusing every gateway request.
 */
export const UPSTREAM_MEMORY_TTL_MS = 5 * SECOND_MS;
export const KV_UPSTREAM_FRESH_MS = 5 * MINUTE_MS;
export const KV_UPSTREAM_TTL_S = DAY_MS / SECOND_MS;
export const KV_UPSTREAM_KEY_PREFIX = "u:";
/** Project facts (worker/orgs/project-facts.ts), keyed by organization id and project key. */
export const KV_PROJECT_KEY_PREFIX = "p:";

/** `lastUsedAt` and the address list are written at most once per token and address in this interval. */
export const LAST_USED_WRITE_INTERVAL_MS = 5 * MINUTE_MS;
export const LAST_USED_IPS_KEPT = 5;
/** Days of per-token verification counts kept (the console's usage chart); the retention job drops older ones. */
export const USAGE_WINDOW_DAYS = 30;
/** Tokens an isolate keeps verification counts for between usage writes; counts of tokens past it are not kept. */
export const USAGE_TALLIES_MAX = 20_000;
/** Token-days of counts one usage write carries at most; a backlog beyond it goes with the next writes. */
export const USAGE_COUNTS_PER_WRITE = 500;
/** The organization overview: "expiring soon" horizons, "unused" age, the refusal ranking's days and length. */
export const OVERVIEW_EXPIRING_DAYS = [7, 30] as const;
export const OVERVIEW_UNUSED_DAYS = 30;
export const OVERVIEW_REFUSED_DAYS = 7;
export const OVERVIEW_TOP_REFUSED = 5;

/** How long a client stays refused (code 9) once the unknown-token limiter trips. */
export const UNKNOWN_TOKEN_BLOCK_MS = MINUTE_MS;

/** A verify answer never waits on D1 longer than this; past it the answer is code 10. */
export const VERIFY_STORE_DEADLINE_MS = 2_500;
/** A KV read slower than this counts as a KV failure: the answer comes from D1 instead. */
export const KV_READ_DEADLINE_MS = 1_000;

/**
 * Background store calls (a cache fill, a usage write) wait this long after the answer: a timer fires
 * only once workerd's event loop has handled the I/O pending when it was set (the answer's write among
 * it), where `scheduler.wait(0)` can run first. Measured at light load, a miss answered in 1.38-1.46x its
 * two reads' p50 with 0 ms and 1.11x with 1 ms (5 ms and 30 ms: no better), README "Benchmarks".
 */
export const BACKGROUND_AFTER_ANSWER_MS = 1;

/**
 * `GET /healthz` answers 503 when D1 or KV takes longer than this to answer its probe (both run at once).
 * Stricter than the verify deadline, so a monitor sounds before verifications start failing, and well
 * within the timeouts monitors use.
 */
export const HEALTH_STORE_DEADLINE_MS = 1_000;
/** The KV key `/healthz` reads: nothing writes it, and a missing key is an answer too. */
export const KV_HEALTH_PROBE_KEY = "healthz";

/** Carrier and request-shape limits on the verify surface. */
export const MAX_CARRIER_LENGTH = 512;
export const VERIFY_BODY_MAX_BYTES = 8 * 1024;
export const MAX_PERMISSIONS_PER_CHECK = 32;
export const MAX_PERMISSION_NAME_LENGTH = 100;
export const MAX_PROJECT_KEY_LENGTH = 200;

/** Token fields (docs/DESIGN.md §2). */
export const TOKEN_NAME_MAX = 100;
export const TOKEN_DESCRIPTION_MAX = 500;
/**
 * The latest expiry a token may be given, counted from when it is set (create, copy, regenerate): ten
 * years, so a mistyped year (2999) is refused; "never" stays a deliberate `expiresAt: null`. The
 * console offers no later date (ui/src/format.ts).
 */
export const TOKEN_MAX_LIFETIME_MS = 3_650 * DAY_MS;
/** The longest a replaced secret keeps verifying after a regenerate (`graceSeconds`, worker/tokens/rotation.ts). */
export const ROTATION_GRACE_MAX_S = 7 * 24 * 60 * 60;
/** CIDR ranges in one token's IP allowlist (worker/verify/ip-allowlist.ts). */
export const TOKEN_ALLOWED_IPS_MAX = 20;

/** D1 refuses a statement with more bound parameters than this; id lists are sliced below it (worker/db/slices.ts). */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * Structure changes (projects, groups, memberships) rewrite at most this many affected tokens' cache
 * entries inline, the most recently used or changed first: 200 puts, up to 200 drops of entries a
 * racing change moved, and 5 D1 queries stay far under Workers' 1,000 KV operations and 1,000 D1
 * queries per invocation however large the organization. The rest have their versions bumped and
 * reach every location when their KV entries expire (KV_TOKEN_TTL_S; docs/API.md).
 */
export const CACHE_REFRESH_INLINE_MAX = 200;

/**
 * Bulk kills (the bulk revoke routes, a leaver's personal tokens, a leak report, a group's own tokens)
 * change every selected row in D1 in a few set-based batches, whatever their number, but rewrite at most
 * this many cache entries inline, the most recently used or changed first: 200 puts and up to 200 drops
 * of entries a racing change moved (or, for a group's tokens, 200 tombstones, one more for each with a
 * rotation's replaced secret still in its row), so a kill, and the structure refresh some of them
 * follow, stay under Workers' 1,000 KV operations per invocation. What is beyond it is documented in
 * docs/API.md ("Bulk kills").
 */
export const BULK_KILL_INLINE_MAX = 200;
/**
 * Levels of "tokens made by tokens" a revocation follows (worker/tokens/cascade.ts). Each level
 * is one bulk revoke; real chains are one or two deep (automation that makes CI tokens).
 */
export const MAX_CREATOR_CASCADE_DEPTH = 8;
/** Statements per D1 batch (one transaction) in bulk kills: many small batches rather than one long lock. */
export const D1_BATCH_MAX_STATEMENTS = 50;

/*
 * Cache fan-out (worker/queue/): what a bulk kill or a structure change cannot rewrite inline goes on a
 * Cloudflare Queue. wrangler.toml's `[[queues.*]]` blocks repeat these numbers (a test holds them equal).
 */
export const CACHE_FANOUT_QUEUE = "tessera-cache-fanout";
/** Messages that failed every retry; its consumer drops their entries so readers go to D1. */
export const CACHE_FANOUT_DLQ = "tessera-cache-fanout-dlq";
/** Token hashes per message: one batch of 100 tokens, one lookup statement (D1_MAX_BOUND_PARAMETERS). */
export const CACHE_FANOUT_TOKENS_PER_MESSAGE = D1_MAX_BOUND_PARAMETERS;
/**
 * Messages per consumer batch (`max_batch_size`): 400 tokens, so 400 puts and up to 400 drops stay under
 * KV's 1,000 operations per invocation, as the inline work does.
 */
export const CACHE_FANOUT_BATCH_MESSAGES = 4;
/** Seconds a consumer waits to fill a batch (`max_batch_timeout`): part of the fan-out's delivery time. */
export const CACHE_FANOUT_BATCH_TIMEOUT_S = 1;
/** Deliveries after the first before a message goes to the dead-letter queue (`max_retries`). */
export const CACHE_FANOUT_MAX_RETRIES = 5;
/**
 * Retry backoff: 2, 4, 8, 16, 32 s, about a minute in all, well inside KV_TOKEN_TTL_S, so a message that
 * exhausts its retries reaches the dead-letter queue while the entries it names could still be cached.
 */
export const CACHE_FANOUT_RETRY_BASE_S = 2;
export const CACHE_FANOUT_RETRY_MAX_S = 60;
/**
 * Messages per `sendBatch` (Queues takes 100 messages or 256 KB a call): a message of 100 hashes is
 * about 7 KB, so 25 are about 175 KB.
 */
export const CACHE_FANOUT_MESSAGES_PER_SEND = 25;

/**
 * Longest `X-Tessera-D1-Bookmark` the management API resumes (worker/http/d1-bookmark.ts). D1's bookmarks
 * are hex groups joined by dashes, about 60 characters; anything longer or of other characters is no
 * bookmark D1 gave.
 */
export const MAX_D1_BOOKMARK_LENGTH = 128;

// Webhook events (docs/API.md "Webhook events"). A failed delivery is retried after 5 minutes, then
// twice as long each time (capped at 12 hours), for 10 attempts in all: about a day and a half.
export const WEBHOOK_RETRY_BASE_MS = 5 * MINUTE_MS;
export const WEBHOOK_RETRY_MAX_DELAY_MS = 12 * HOUR_MS;
export const WEBHOOK_MAX_ATTEMPTS = 10;
/** How long an attempt holds an event it claimed; a run that died gives it back after this. */
export const WEBHOOK_CLAIM_MS = 2 * MINUTE_MS;
/** The console's delivery log: the newest deliveries shown. */
export const WEBHOOK_LOG_LIMIT = 50;
/** Delivered and given-up events are kept this long, then the retention job prunes them. */
export const WEBHOOK_LOG_RETENTION_DAYS = 30;
/** Events one audit export holds at most; past them its answer names a cursor for the rest (docs/API.md, "Audit log"). */
export const AUDIT_EXPORT_MAX_ROWS = 10_000;
/** Events an audit export reads a query: two D1 calls (the rows, their labels) a page, 20 pages at most. */
export const AUDIT_EXPORT_PAGE_ROWS = 500;
