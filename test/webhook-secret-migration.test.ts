import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import migration from "../migrations/0005_webhook_secrets_whsec.sql?raw";
import { makeOrg } from "./support/fixtures";
import { verifiedPayload } from "./support/webhooks";

// Migration 0005 rewrites secrets stored before Standard Webhooks as `whsec_` + base64 of their UTF-8
// bytes: the HMAC key stays the same bytes, so it is the old secret written the standard way.

const base64Utf8 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

async function withSecret(secret: string | null): Promise<string> {
  const org = await makeOrg();
  await env.DB.prepare(
    "UPDATE organizations SET webhook_url = 'https://hooks.test/in', webhook_secret = ?2 WHERE id = ?1",
  )
    .bind(org.orgId, secret)
    .run();
  return org.orgId;
}

const storedSecret = async (orgId: string) =>
  (await env.DB.prepare("SELECT webhook_secret AS s FROM organizations WHERE id = ?1").bind(orgId).first<{
    s: string | null;
  }>())!.s;

describe("migration 0005_webhook_secrets_whsec", () => {
  it("writes every legacy secret as whsec_ + base64 of its bytes, padding included, and leaves the rest", async () => {
    // Lengths 16, 17 and 18 end on each base64 padding case; one has non-ASCII characters.
    const legacy = ["0123456789abcdef", "0123456789abcdef!", "0123456789abcdef!?", "überschlüssel-ß-0123456789"];
    const ids = await Promise.all(legacy.map(withSecret));
    const standard = `whsec_${base64Utf8("already a standard secret, 32 b")}`;
    const kept = await withSecret(standard);
    const none = await withSecret(null);

    for (const statement of migration.split("--> statement-breakpoint")) await env.DB.prepare(statement).run();

    for (const [i, id] of ids.entries()) expect(await storedSecret(id)).toBe(`whsec_${base64Utf8(legacy[i]!)}`);
    expect(await storedSecret(kept)).toBe(standard);
    expect(await storedSecret(none)).toBeNull();
    expect(await env.DB.prepare("SELECT name FROM sqlite_master WHERE name = '_whsec'").first()).toBeNull();
  });

  it("keeps the key: what the old secret's bytes sign, the library verifies under the converted one", async () => {
    const old = "a long random secret";
    const id = "msg_1";
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"type":"token.expiring"}';
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(old),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
    const headers = new Headers({
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${btoa(String.fromCharCode(...new Uint8Array(mac)))}`,
    });
    const orgId = await withSecret(old);
    for (const statement of migration.split("--> statement-breakpoint")) await env.DB.prepare(statement).run();
    expect(verifiedPayload((await storedSecret(orgId))!, headers, body)).toEqual({ type: "token.expiring" });
  });
});
