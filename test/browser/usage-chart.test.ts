// Issue 16.10 and 15.6 on screen: a token's usage chart drawn from seeded daily counts (bars named by their
// day and counts, the same numbers in the table beside it), the attempts made on it since it was revoked,
// and the organization overview. Uses the owner and organization console.test.ts creates (or creates them).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launch, newPage, ORG, OWNER, persist, shot, signInOwner } from "./browser";
import { d1 } from "./server.mjs";

let browser: Browser;
let page: Page;
const DAY = 86_400_000;
const today = Date.now() - (Date.now() % DAY);
const label = (ms: number) =>
  new Date(ms).toLocaleDateString("en-US", { day: "numeric", month: "short", timeZone: "UTC" });

beforeAll(async () => {
  browser = await launch();
  ({ page } = await newPage(browser));
  expect(await signInOwner(page)).toBeLessThan(300);
  expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
});

async function apiToken(name: string): Promise<string> {
  const res = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
    kind: "org",
    name,
    expiresAt: null,
    projects: "*",
    permissions: ["analysis:execute"],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.token.id;
}

describe("usage at a glance", () => {
  it("draws the 30-day chart from the daily counts, with a table of the same numbers", async () => {
    const id = await apiToken("usage chart");
    d1(
      persist,
      `INSERT INTO token_daily_counts (token_id, day, valid, denied, dead) VALUES
         ('${id}', ${today}, 3, 2, 1), ('${id}', ${today - 3 * DAY}, 5, 0, 0), ('${id}', ${today - 40 * DAY}, 9, 9, 9)`,
    );
    d1(
      persist,
      `INSERT INTO token_usage (token_id, ip, last_seen_at) VALUES ('${id}', '198.51.100.23', ${Date.now() - 60_000})`,
    );
    await page.goto(`/orgs/${ORG.slug}/tokens/${id}`);
    await page.getByRole("heading", { level: 2, name: "Usage" }).waitFor();
    const chart = page.getByRole("img", { name: `${label(today)}: 3 valid, 2 denied, 1 while dead` });
    await chart.waitFor();
    await page.getByRole("img", { name: `${label(today - 3 * DAY)}: 5 valid, 0 denied, 0 while dead` }).waitFor();
    // Only days with verifications have a bar; the day outside the window is not drawn.
    expect(await page.locator("figure.chart g[role=img]").count()).toBe(2);
    expect(await page.locator("figure.chart svg title").first().textContent()).toBe(
      "Verifications per day, last 30 days",
    );
    expect(await page.locator("figure.chart svg desc").textContent()).toContain(
      "In all: 8 valid, 2 denied, 1 while dead.",
    );
    await page.getByRole("row", { name: /198\.51\.100\.23/ }).waitFor();

    // The same numbers as a table, for screen readers and anyone who opens it.
    await page.getByText("The chart as a table").click();
    const row = page.getByRole("row", { name: label(today) });
    expect(await row.getByRole("cell").allTextContents()).toEqual(["3", "2", "1"]);
    expect(await page.locator("figure.chart tbody tr").count()).toBe(30);
    await shot(page, "token-usage", { docs: true });
  });

  it("says how often a revoked token was tried since, and from where", async () => {
    const id = await apiToken("usage dead");
    expect((await call(page, "POST", `/api/orgs/${ORG.slug}/tokens/${id}/revoke`)).status).toBe(200);
    const revokedAt = (await call(page, "GET", `/api/orgs/${ORG.slug}/tokens/${id}`)).body.revokedAt as string;
    d1(
      persist,
      `UPDATE tokens SET dead_attempts = 14, dead_attempt_at = ${Date.parse(revokedAt) + 60_000},
         dead_attempt_ip = '203.0.113.9' WHERE id = '${id}'`,
    );
    d1(
      persist,
      `INSERT INTO token_daily_counts (token_id, day, valid, denied, dead) VALUES ('${id}', ${today}, 0, 0, 14)`,
    );
    await page.goto(`/orgs/${ORG.slug}/tokens/${id}`);
    await page.getByText(/Used 14 times since it was revoked .* from 203\.0\.113\.9\./).waitFor();
    await page.getByRole("img", { name: `${label(today)}: 0 valid, 0 denied, 14 while dead` }).waitFor();
  });

  it("the overview: tokens by status and the tokens refused most this week, linked", async () => {
    await page.goto(`/orgs/${ORG.slug}/tokens`);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    const counts = (await call(page, "GET", `/api/orgs/${ORG.slug}/overview`)).body;
    const revoked = page.locator("figure.chart").getByRole("row", { name: /Revoked/ });
    expect(await revoked.getByRole("cell").textContent()).toBe(String(counts.statuses.revoked));
    await page.getByRole("img", { name: /tokens by status/ }).waitFor();
    const refused = page.locator("table").last();
    const names = await refused.locator("tbody tr td:first-child").allTextContents();
    // "usage dead" was refused 14 times this week, "usage chart" 3 times (2 denied, 1 while dead).
    expect(names.indexOf("usage dead")).toBeGreaterThanOrEqual(0);
    expect(names.indexOf("usage dead")).toBeLessThan(names.indexOf("usage chart"));
    await shot(page, "overview", { docs: true });
    await refused.getByRole("link", { name: "usage dead" }).click();
    await page.getByRole("heading", { level: 1, name: "usage dead" }).waitFor();
  });
});
