// Issue 15, items 3 and 4 in the console: an organization's token policies set in its settings, the create
// dialog refusing an expiry beyond them before anything is sent, and an idle token's purge badge with Keep.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterSudo, call, launch, newPage, ORG, OWNER, persist, shot, signInOwner } from "./browser";
import { d1 } from "./server.mjs";

const DAY_MS = 86_400_000;
const open = { maxLifetimeDays: null, expiryRequired: false };
const NO_POLICIES = {
  lifetime: { org: open, group: open, personal: open },
  personalPermissionSets: null,
  expiryNoticeDays: [30, 7, 1],
};

let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await launch();
  ({ page } = await newPage(browser));
  expect(await signInOwner(page)).toBeLessThan(300);
  expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
});
afterAll(async () => {
  // Other files share this instance: leave it without policies.
  if (page) await call(page, "PUT", `/api/orgs/${ORG.slug}/policies`, NO_POLICIES);
  await browser?.close();
});

const tokenCount = async (name: string) =>
  (await call<{ items: { name: string }[] }>(page, "GET", `/api/orgs/${ORG.slug}/tokens?q=${encodeURIComponent(name)}`))
    .body.items.length;

describe("staged inactivity", () => {
  it("shows “Unused — removed in N days” on an idle token, and Keep takes it away", async () => {
    const made = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
      kind: "org",
      name: "Idle deploy key",
      expiresAt: null,
      projects: "*",
      permissions: ["analysis:execute"],
    });
    expect(made.status).toBe(201);
    d1(
      persist,
      `UPDATE tokens SET created_at = created_at - ${55 * DAY_MS}, last_used_at = NULL WHERE id = '${made.body.token.id}'`,
    );

    await page.goto(`/orgs/${ORG.slug}/tokens`);
    const row = page.getByRole("row", { name: /Idle deploy key/ });
    await row.getByText("Unused — removed in 5 days").waitFor();

    await page.goto(`/orgs/${ORG.slug}/tokens/${made.body.token.id}`);
    await page.getByText("Unused — removed in 5 days").waitFor();
    await shot(page, "purge-badge");
    await page.getByRole("button", { name: "Keep", exact: true }).click();
    const confirm = await afterSudo(page, "Keep this token?");
    await confirm.getByRole("button", { name: "Keep" }).click();
    await page.getByText("Kept: it counts as used today.").waitFor();
    expect(await page.getByText(/Unused — removed/).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Keep", exact: true }).count()).toBe(0);
    const audit = await call(page, "GET", `/api/orgs/${ORG.slug}/audit?action=token.kept&target=${made.body.token.id}`);
    expect(audit.body.items).toHaveLength(1);
  });
});

describe("token policies", () => {
  it("are set in the settings, shown in the create dialog, which refuses an expiry beyond them", async () => {
    await page.goto(`/orgs/${ORG.slug}/settings`);
    const panel = page.getByRole("form", { name: "Policies" });
    await panel.waitFor();
    await panel.getByRole("group", { name: "Organization tokens" }).getByLabel("Maximum lifetime (days)").fill("30");
    await panel.getByRole("button", { name: "Save policies" }).click();
    await panel.getByText(/^Saved/).waitFor();
    const saved = await call(page, "GET", `/api/orgs/${ORG.slug}/policies`);
    expect(saved.body.lifetime.org).toEqual({ maxLifetimeDays: 30, expiryRequired: true });

    await page.goto(`/orgs/${ORG.slug}/tokens`);
    await page.getByRole("button", { name: "New token" }).click();
    const d = page.getByRole("dialog", { name: "New token" });
    await d.getByText(/Policy: an expiry within 30 days/).waitFor();
    const expires = d.getByLabel("Expires");
    expect(await expires.locator("option", { hasText: "No expiration" }).count()).toBe(0);
    await d.getByLabel("Name", { exact: true }).fill("Beyond the policy");
    await d.getByText("All projects, current and future").click();
    await d.getByLabel("analysis:read").check();
    await expires.selectOption("date");
    const later = new Date(Date.now() + 45 * DAY_MS);
    const day = `${later.getFullYear()}-${String(later.getMonth() + 1).padStart(2, "0")}-${String(later.getDate()).padStart(2, "0")}`;
    await d.getByLabel("Date").fill(day);
    await d.getByRole("button", { name: "Create token" }).click();
    await d.getByText(/policy allows at most 30 days/).waitFor();
    await shot(page, "policy-refusal");
    expect(await tokenCount("Beyond the policy")).toBe(0);

    // Within it, the token is made.
    await expires.selectOption("7");
    await d.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByRole("dialog", { name: "Your token “Beyond the policy”" });
    await shown.waitFor();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    expect(await tokenCount("Beyond the policy")).toBe(1);
  });
});
