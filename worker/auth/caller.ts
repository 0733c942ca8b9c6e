import type { MembershipRole, TokenKind } from "../db/schema";

/** Who is calling the management API: a console session, or a token whose `admin` flag is set. */
export type Caller =
  | {
      type: "user";
      userId: string;
      email: string;
      isOwner: boolean;
      sessionId: string;
      sudoUntil: number | null;
      /** Signs in with a second factor (docs/DESIGN.md §5): what an organization's two-factor policy asks of its admins. */
      twoFactor: boolean;
    }
  | {
      type: "token";
      tokenId: string;
      kind: TokenKind;
      orgId: string;
      groupId: string | null;
      /** The person behind a personal admin token; null for org and group tokens. */
      userId: string | null;
      permissions: string[];
      /** The token's own project scope: the ceiling of anything it creates or widens. */
      projects: "*" | string[];
      /** Epoch ms or null: nothing it creates may outlive it. */
      expiresAt: number | null;
      /** The addresses it may be used from (normalized ranges), or null for any: nothing it grants reaches beyond them. */
      allowedIps: readonly string[] | null;
    };

export type UserCaller = Extract<Caller, { type: "user" }>;
export type TokenCaller = Extract<Caller, { type: "token" }>;

export interface Membership {
  orgId: string;
  groupId: string | null;
  role: MembershipRole;
  permissions: string[] | null;
}
