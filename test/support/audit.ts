import { env } from "cloudflare:workers";

/** Every audit row of one action, oldest first, as D1 holds it. */
export const auditRows = async (action: string) =>
  (
    await env.DB.prepare("SELECT * FROM audit_events WHERE action = ? ORDER BY id")
      .bind(action)
      .all<Record<string, unknown>>()
  ).results;
