import { inArray } from "drizzle-orm";
import { type Actor, auditInsert, writeAudit } from "../audit/events";
import { batch } from "../db/batch";
import { database } from "../db/client";
import { organizations } from "../db/schema";
import type { D1 } from "../db/session";
import { chunk } from "../db/slices";
import { D1_BATCH_MAX_STATEMENTS } from "../limits";
import { revokeTokensBulk } from "../tokens/bulk-revoke";
import { revokeWhatTheyMade } from "../tokens/cascade";
import { parseToken } from "../tokens/format";
import { hashToken } from "../tokens/hash";
import { lookupTokensByHashes } from "../tokens/lookup";
import type { TokenStoreEnv } from "../tokens/store";
import { sha256Hex } from "../util/hex";
import { deliverWebhook } from "../webhooks/deliver";
import { newWebhookId } from "../webhooks/sign";

/** The most token strings an admin's report may carry (each real one is revoked and audited); GitHub's are bounded by size only. */
export const MAX_LEAKS_PER_REPORT = 100;
/** Where an organization's leak alert goes: the webhook event type. */
export const LEAK_ALERT_EVENT = "token.leaked";

/** One reported leak, in GitHub's partner format. */
export interface LeakItem {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

export type LeakResult = "revoked" | "already_revoked" | "not_found";

export interface LeakVerdict {
  /** The reported string's SHA-256 as hex: how a report's answer names it without repeating the secret. */
  sha256: string;
  type: string | null;
  result: LeakResult;
  /** Set for tokens of the reporter's reach (every token for GitHub, the organization's for an admin). */
  tokenId: string | null;
}

export interface RevokedLeak {
  orgId: string;
  tokenId: string;
  name: string;
  kind: string;
  url: string | null;
  source: string | null;
  type: string | null;
}

export interface LeakReport {
  verdicts: LeakVerdict[];
  revoked: RevokedLeak[];
}

/** Who reported: GitHub (any organization's tokens) or an organization admin (that organization's only). */
export type Reporter = { kind: "github"; actor: Actor } | { kind: "admin"; orgId: string; actor: Actor };

const orNull = (value: string | undefined) => (value === undefined || value === "" ? null : value.slice(0, 2_000));

/**
 * Revokes every real, live token in the report, each with its own `token.revoked` event (in bulk, through
 * `revokeTokensBulk`, which overwrites the cache entries at once) and a `token.leaked` event naming where it
 * was found. Strings that are not tokens, or not within the reporter's reach, are only counted.
 * A repeated report changes nothing: its tokens are already revoked.
 */
export async function reportLeaks(
  env: TokenStoreEnv,
  items: LeakItem[],
  reporter: Reporter,
  now: number,
): Promise<LeakReport> {
  const seen = new Set<string>();
  const reported: { item: LeakItem; sha256: string; type: string | null; hash: string | null }[] = [];
  for (const item of items) {
    const sha256 = await sha256Hex(item.token);
    if (seen.has(sha256)) continue;
    seen.add(sha256);
    // A malformed string or a bad checksum is not ours: no store read at all.
    const hash = parseToken(item.token) ? await hashToken(env.TOKEN_PEPPER, item.token) : null;
    reported.push({ item, sha256, type: orNull(item.type), hash });
  }
  const found = await lookupTokensByHashes(
    env.d1,
    reported.flatMap((r) => (r.hash === null ? [] : [r.hash])),
  );
  const tokenOf = (hash: string | null) => {
    const token = hash === null ? null : found.get(hash)?.token;
    // A regenerate's old secret past its grace verifies nowhere: its leak is no threat to the token.
    if (token?.oldSecretUntil !== undefined && token.oldSecretUntil <= now) return null;
    return !token || (reporter.kind === "admin" && token.orgId !== reporter.orgId) ? null : token;
  };

  const live = reported.flatMap((r) => {
    const token = tokenOf(r.hash);
    return token && token.revokedAt === null ? [token] : [];
  });
  const revokedNow = new Set<string>();
  for (const [orgId, tokens] of Map.groupBy(live, (t) => t.orgId)) {
    const report = await revokeTokensBulk(env, orgId, { ids: tokens.map((t) => t.id) }, reporter.actor, now);
    for (const id of report.revoked) revokedNow.add(id);
    await revokeWhatTheyMade(env, orgId, report.revoked, reporter.actor, now);
  }

  const verdicts: LeakVerdict[] = [];
  const revoked: RevokedLeak[] = [];
  for (const { item, sha256, type, hash } of reported) {
    const token = tokenOf(hash);
    if (!token) {
      verdicts.push({ sha256, type, result: "not_found", tokenId: null });
      continue;
    }
    // Revoked before this report, or by a revoke that beat it to the row.
    if (!revokedNow.has(token.id)) {
      verdicts.push({ sha256, type, result: "already_revoked", tokenId: token.id });
      continue;
    }
    revoked.push({
      orgId: token.orgId,
      tokenId: token.id,
      name: token.name,
      kind: token.kind,
      url: orNull(item.url),
      source: orNull(item.source),
      type,
    });
    verdicts.push({ sha256, type, result: "revoked", tokenId: token.id });
  }
  await recordLeaks(env.d1, revoked, reporter, now);
  return { verdicts, revoked };
}

/** One `token.leaked` event per revoked token, a batch at a time. */
async function recordLeaks(d1: D1, revoked: RevokedLeak[], reporter: Reporter, now: number): Promise<void> {
  const db = database(d1);
  for (const slice of chunk(revoked, D1_BATCH_MAX_STATEMENTS)) {
    const events = slice.map((leak) =>
      auditInsert(
        db,
        reporter.actor,
        {
          orgId: leak.orgId,
          action: "token.leaked",
          targetType: "token",
          targetId: leak.tokenId,
          detail: { reporter: reporter.kind, url: leak.url, source: leak.source, type: leak.type },
        },
        now,
      ),
    );
    await batch(db, events);
  }
}

/**
 * One signed webhook per organization that lost tokens, listing them and where they were found;
 * each delivery, delivered or not, is recorded in that organization's audit log.
 */
export async function alertOrganizations(
  d1: D1,
  revoked: RevokedLeak[],
  reporter: Reporter["kind"],
  now: number,
): Promise<void> {
  if (revoked.length === 0) return;
  const byOrg = Map.groupBy(revoked, (r) => r.orgId);
  const db = database(d1);
  const orgs = await db
    .select({
      id: organizations.id,
      slug: organizations.slug,
      webhookUrl: organizations.webhookUrl,
      webhookSecret: organizations.webhookSecret,
    })
    .from(organizations)
    .where(inArray(organizations.id, [...byOrg.keys()]));

  for (const org of orgs) {
    if (!org.webhookUrl) continue;
    const leaks = byOrg.get(org.id) ?? [];
    const payload = {
      reporter,
      tokens: leaks.map((l) => ({
        id: l.tokenId,
        name: l.name,
        kind: l.kind,
        url: l.url,
        source: l.source,
        type: l.type,
      })),
    };
    const delivery = await deliverWebhook(org, { id: newWebhookId(), type: LEAK_ALERT_EVENT, data: payload }, now);
    await writeAudit(
      db,
      { type: "system", id: null, ip: null },
      {
        orgId: org.id,
        action: "webhook.leak_alert",
        targetType: "webhook",
        targetId: delivery.deliveryId,
        detail: delivery.ok
          ? { delivered: true, status: delivery.status, tokens: leaks.map((l) => l.tokenId) }
          : { delivered: false, status: delivery.status, error: delivery.error, tokens: leaks.map((l) => l.tokenId) },
      },
      now,
    );
  }
}
