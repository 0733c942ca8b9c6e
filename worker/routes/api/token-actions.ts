import type { Context } from "hono";
import type { z } from "zod";
import { actorOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { keepToken } from "../../tokens/keep";
import { endGrace } from "../../tokens/rotation";
import {
  copyToken,
  deleteToken,
  disableToken,
  editToken,
  enableToken,
  regenerateToken,
  revokeToken,
} from "../../tokens/store";
import { tokenUsageReport } from "../../tokens/usage-report";
import { type TokenRow, tokenView } from "../../tokens/views";
import { type copyBody, type editBody, type regenerateBody, toEpoch } from "./token-fields";

type C = Context<AppEnv>;

export const noSuchToken = () => new AppError("not_found", "No such token.");

/**
 * What differs between the organization's tokens and a person's own: which tokens the caller may
 * manage, and the ceiling a token must fit before an action gives it power. Each check throws.
 */
export interface TokenScope {
  /** The token `id` when the caller may manage it; otherwise `noSuchToken()`: it does not exist for them. */
  find(c: C, id: string): Promise<TokenRow>;
  /** Before an edit re-aims the token at other projects or addresses (the fields it changes). */
  assertMayEdit(c: C, row: TokenRow, changes: { projects?: string[]; allowedIps?: string[] | null }): Promise<void>;
  /** Before the token comes back to power: a new secret (regenerate, maybe with a new expiry) or enabled again. */
  assertMayRevive(c: C, row: TokenRow, expiresAt?: number | null): Promise<void>;
  /** Before a copy of the token, expiring at `expiresAt`, is made. */
  assertMayCopy(c: C, row: TokenRow, expiresAt: number | null): Promise<void>;
}

/**
 * The actions on one token, shared by `/api/orgs/:org/tokens/:id` and `/api/me/tokens/:id`. Each
 * router keeps its paths, guards, validators and statuses inline, so `hc<AppType>` still types them.
 */
export function tokenActions(tokenScope: TokenScope) {
  const scope = { ...tokenScope, find: (c: C) => tokenScope.find(c, c.req.param("id") ?? "") };
  return {
    async view(c: C) {
      return tokenView(dbOf(c), await scope.find(c), nowOf(c));
    },
    /** Verifications per day over the usage window, and the last addresses (docs/API.md "Usage"). */
    async usage(c: C) {
      return tokenUsageReport(dbOf(c), (await scope.find(c)).id, nowOf(c));
    },
    async edit(c: C, edit: z.infer<typeof editBody>) {
      const row = await scope.find(c);
      const { projects, allowedIps } = edit;
      if (projects !== undefined || allowedIps !== undefined) {
        await scope.assertMayEdit(c, row, {
          ...(projects !== undefined && { projects }),
          ...(allowedIps !== undefined && { allowedIps: allowedIps?.length ? allowedIps : null }),
        });
      }
      return editToken(storeEnvOf(c), row.orgId, row.id, edit, actorOf(c), nowOf(c));
    },
    async remove(c: C) {
      const row = await scope.find(c);
      await deleteToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    async regenerate(c: C, body: z.infer<typeof regenerateBody>) {
      const row = await scope.find(c);
      const expiresAt = body.expiresAt === undefined ? undefined : toEpoch(body.expiresAt);
      await scope.assertMayRevive(c, row, expiresAt);
      return regenerateToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c), {
        expiresAt,
        graceMs: (body.graceSeconds ?? 0) * 1000,
      });
    },
    async endGrace(c: C) {
      const row = await scope.find(c);
      return endGrace(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    async copy(c: C, body: z.infer<typeof copyBody>) {
      const row = await scope.find(c);
      const now = nowOf(c);
      const asked = body.expiresAt === undefined ? undefined : toEpoch(body.expiresAt);
      // Unless asked otherwise, the copy lives as long as the original did, from now (as copyToken makes it).
      const expiresAt =
        asked !== undefined ? asked : row.expiresAt === null ? null : now + (row.expiresAt - row.createdAt);
      await scope.assertMayCopy(c, row, expiresAt);
      return copyToken(storeEnvOf(c), row.orgId, row.id, { name: body.name, expiresAt: asked }, actorOf(c), now);
    },
    async disable(c: C) {
      const row = await scope.find(c);
      return disableToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    async enable(c: C) {
      const row = await scope.find(c);
      await scope.assertMayRevive(c, row);
      return enableToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    /** Counts as a use, so it keeps an idle token from the purge: judged as bringing it back (`assertMayRevive`). */
    async keep(c: C) {
      const row = await scope.find(c);
      await scope.assertMayRevive(c, row);
      return keepToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    async revoke(c: C) {
      const row = await scope.find(c);
      return revokeToken(storeEnvOf(c), row.orgId, row.id, actorOf(c), nowOf(c));
    },
    /**
     * Disables or enables many tokens, one at a time with the single-token checks (enable needs the
     * same cover as reviving one). Ids the caller does not manage are `notFound`; revoked tokens, and
     * tokens the caller may not revive (beyond an admin token's cover, or in an organization whose
     * two-factor policy the caller does not meet), are `skipped`; neither stops the others.
     */
    async bulk(c: C, ids: string[], change: "disable" | "enable") {
      const changed: string[] = [];
      const notFound: string[] = [];
      const skipped: string[] = [];
      for (const id of new Set(ids)) {
        try {
          const row = await tokenScope.find(c, id);
          if (change === "enable") await scope.assertMayRevive(c, row);
          await (change === "disable" ? disableToken : enableToken)(
            storeEnvOf(c),
            row.orgId,
            row.id,
            actorOf(c),
            nowOf(c),
          );
          changed.push(id);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          if (err.code === "not_found") notFound.push(id);
          else if (err.code === "conflict" || err.code === "forbidden" || err.code === "two_factor_required")
            skipped.push(id);
          else throw err;
        }
      }
      return { changed, notFound, skipped };
    },
  };
}
