// Issue 11, item 3: management permissions in the console. The create dialog offers them only for
// an admin token, marks the dangerous ones and warns before granting them; the catalog screen marks
// them too. Uses the owner and organization console.test.ts creates (or creates them if it has not run).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";

const DANGEROUS = ["manage:members", "manage:upstreams", "manage:settings"];
const SAFER = ["manage:tokens", "manage:projects", "audit:read"];

let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launch();
  ({ context, page } = await newPage(browser));
});
afterAll(async () => {
  await browser?.close();
});

const dialog = (name: string | RegExp) => page.getByRole("dialog", { name });

describe("management permissions in the console", () => {
  it("the create dialog offers them only with Admin on, marks the dangerous ones and warns before granting them", async () => {
    expect(await signInOwner(page)).toBeLessThan(300);
    expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);

    await page.goto(`/orgs/${ORG.slug}/tokens`);
    await page.getByRole("heading", { level: 1, name: "Tokens" }).waitFor();
    await page.getByRole("button", { name: "New token" }).click();
    const d = dialog("New token");
    await d.getByLabel("Name", { exact: true }).fill("Terraform");
    await d.getByText("All projects, current and future").click();
    const management = d.getByRole("group", { name: "Management permissions" });
    // Without Admin: not offered at all, neither apart nor among the methods.
    await d.getByLabel("Search methods").waitFor();
    expect(await management.count()).toBe(0);
    for (const name of [...DANGEROUS, ...SAFER])
      expect(await d.locator("code", { hasText: name }).count(), name).toBe(0);
    await d.getByLabel("analysis:read").check();

    await d.getByLabel("Admin: this token").check();
    await management.waitFor();
    for (const name of DANGEROUS) {
      const row = management.locator("label", { hasText: name });
      expect(await row.locator(".badge.dangerous").count(), name).toBe(1);
    }
    for (const name of SAFER) {
      const row = management.locator("label", { hasText: name });
      expect(await row.count(), name).toBe(1);
      expect(await row.locator(".badge.dangerous").count(), name).toBe(0);
    }
    // Granting a safer one warns of nothing; a dangerous one shows the warning, naming it.
    await management.getByLabel("manage:tokens").check();
    expect(await management.getByRole("alert").count()).toBe(0);
    await management.getByLabel("manage:members").check();
    const warning = management.getByRole("alert");
    await warning.waitFor();
    expect(await warning.textContent()).toContain("manage:members");
    expect(await warning.textContent()).toContain("outlives the token");
    await shot(page, "management-permissions-dialog");

    // Turning Admin off drops them from the grant: the token made is a plain one.
    await d.getByLabel("Admin: this token").uncheck();
    expect(await management.count()).toBe(0);
    await d.getByLabel("Admin: this token").check();
    expect(await management.getByLabel("manage:members").isChecked()).toBe(false);
    await management.getByLabel("manage:tokens").check();
    await management.getByLabel("manage:upstreams").check();
    expect(await management.getByRole("alert").textContent()).toContain("manage:upstreams");
    await d.getByRole("button", { name: "Create token" }).click();
    const shown = dialog("Your token “Terraform”");
    await shown.waitFor();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();

    const list = await call<{ items: { name: string; admin: boolean; permissions: string[] }[] }>(
      page,
      "GET",
      `/api/orgs/${ORG.slug}/tokens?q=Terraform`,
    );
    const made = list.body.items.find((t) => t.name === "Terraform")!;
    expect(made.admin).toBe(true);
    expect(made.permissions).toEqual(["analysis:read", "manage:tokens", "manage:upstreams"]);
  });

  it("the catalog screen marks the permissions only admin tokens hold, and the dangerous ones", async () => {
    await page.goto("/permissions");
    await page.getByRole("heading", { level: 1, name: "Permissions" }).waitFor();
    const rowOf = (name: string) => page.locator(`xpath=//tr[td/code[text()="${name}"]]`);
    await rowOf("manage:members").waitFor();
    for (const name of DANGEROUS) {
      expect(await rowOf(name).getByText("admin tokens only").count(), name).toBe(1);
      expect(await rowOf(name).locator(".badge.dangerous").textContent(), name).toBe("dangerous");
    }
    for (const name of SAFER) {
      expect(await rowOf(name).getByText("admin tokens only").count(), name).toBe(1);
      expect(await rowOf(name).locator(".badge.dangerous").count(), name).toBe(0);
    }
    for (const name of ["analysis:read", "tokens:introspect"])
      expect(await rowOf(name).locator(".badge").count(), name).toBe(0);
    await shot(page, "management-permissions-catalog");
    await context.close();
  });
});
