import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { newUserRow } from "../worker/accounts/users";
import { database } from "../worker/db/client";
import { users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { MINUTE_MS } from "../worker/limits";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { resetJobState, runCronAt } from "./support/cron";
import { register } from "./support/people";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// Issue 15: joining through an invitation is `member.added` (docs/API.md "Webhook events"). The audit
// trigger describes the member by `detail.memberId`, so the membership and its account must exist
// when the accept transaction writes the audit row, for a new account as for an existing one.

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const HOST = "hooks.invitation-member.test";
const SECRET = webhookSecret("invitation member events");
const PW = "invitee password 123";

interface Payload {
  type: string;
  data: {
    target: { type: string; id: string };
    detail: { memberId?: string; userId?: string };
    member: { id: string; user: { id: string; email: string }; role: string; group: string | null } | null;
  };
}
let received: Payload[] = [];
let clock = T0;

const sudo = () => sudoSession(OWNER.email, OWNER.password);
const invite = async (email: string, extra: Record<string, unknown>) => {
  const res = await api("POST", "/api/orgs/acme/members", {
    cookie: await sudo(),
    body: { email, role: "org_member", ...extra },
  });
  expect(res.status).toBe(202);
  return res.body as { invitation: { id: string }; secret: string };
};
/** What the trigger queued for `member.added`, oldest first. */
const queued = async () =>
  (
    await env.DB.prepare("SELECT data FROM webhook_outbox WHERE type = 'member.added' ORDER BY created_at").all<{
      data: string;
    }>()
  ).results.map((r) => JSON.parse(r.data) as Payload["data"]);

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  await setupOwner({ slug: "acme", name: "Acme" });
  const cookie = await sudo();
  expect(
    (await api("PATCH", "/api/orgs/acme", { cookie, body: { webhook: { url: `https://${HOST}/in`, secret: SECRET } } }))
      .status,
  ).toBe(200);
  expect(
    (await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "backend", name: "Backend" } })).status,
  ).toBe(201);
  expect(
    (await api("PUT", "/api/orgs/acme/webhook/events", { cookie, body: { events: ["member.added"] } })).status,
  ).toBe(200);
});
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  await resetJobState();
  received = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).host !== HOST) throw new Error(`unexpected fetch to ${request.url}`);
    received.push(verifiedPayload(SECRET, request.headers, await request.text()) as Payload);
    return new Response(null, { status: 204 });
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await env.DB.prepare("DELETE FROM webhook_outbox").run();
});

/** Queued and then delivered by the cron, the one `member.added` describes the membership `memberId`. */
async function expectMemberAdded(
  inviteId: string,
  member: { id: string; userId: string; email: string; role: string; group: string | null },
) {
  const expected = {
    target: { type: "invitation", id: inviteId },
    detail: { memberId: member.id, userId: member.userId },
    member: {
      id: member.id,
      user: { id: member.userId, email: member.email },
      role: member.role,
      group: member.group,
    },
  };
  const outbox = await queued();
  expect(outbox).toHaveLength(1);
  expect(outbox[0]).toMatchObject(expected);

  clock += MINUTE_MS;
  await runCronAt(clock);
  expect(received.map((p) => p.type)).toEqual(["member.added"]);
  expect(received[0]!.data).toMatchObject(expected);
}

describe("member.added of an accepted invitation", () => {
  it("describes the member of a new account made through the link, with its group", async () => {
    const made = await invite("newcomer@example.com", { role: "group_member", group: "backend" });
    const joined = await register(made.secret, "Newcomer", PW);
    expect(joined.status).toBe(201);
    await expectMemberAdded(made.invitation.id, {
      id: joined.body.member.id,
      userId: joined.body.user.id,
      email: "newcomer@example.com",
      role: "group_member",
      group: "backend",
    });
  });

  it("describes the member of an existing account that signs in and accepts", async () => {
    // The invitation comes first: an email that already has an account is linked, not invited.
    const made = await invite("existing@example.com", { role: "org_admin" });
    const user = await newUserRow(
      { email: "existing@example.com", name: "Existing", password: PW, isOwner: false },
      clock,
    );
    await database(primarySession(env.DB)).insert(users).values(user);
    const accepted = await api("POST", "/api/invitations/accept", {
      cookie: await login("existing@example.com", PW),
      body: { secret: made.secret },
    });
    expect(accepted.status).toBe(200);
    await expectMemberAdded(made.invitation.id, {
      id: accepted.body.id,
      userId: user.id,
      email: "existing@example.com",
      role: "org_admin",
      group: null,
    });
  });
});
