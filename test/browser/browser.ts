// Headless Chromium from Debian's package, driven by playwright-core, against the test worker.
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { inject } from "vitest";
import { SETUP_TOKEN } from "./server.mjs";

export const baseUrl = inject("baseUrl");
export const persist = inject("persist");

const CHROMIUM = inject("chromium");
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** A fresh browser profile (no cookies) that may use the clipboard, as a person clicking Copy would. */
export async function newPage(
  browser: Browser,
  options: { colorScheme?: "light" | "dark" } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: { width: 1280, height: 860 },
    locale: "en-US",
    colorScheme: options.colorScheme ?? "light",
    permissions: ["clipboard-read", "clipboard-write"],
  });
  // A step that has not happened in 10 s will not: fail there rather than at the test's timeout.
  context.setDefaultTimeout(10_000);
  return { context, page: await context.newPage() };
}

/**
 * Saves the current screen under test-results/browser (git-ignored). Main screens (`docs`) also go to
 * docs/screenshots for the README when the run sets TESSERA_DOCS_SCREENSHOTS=1.
 */
export async function shot(page: Page, name: string, options: { docs?: boolean } = {}): Promise<void> {
  const dirs = inject("shotDirs");
  await page.screenshot({ path: `${dirs.results}/${name}.png`, animations: "disabled" });
  if (options.docs && dirs.docs) await page.screenshot({ path: `${dirs.docs}/${name}.png`, animations: "disabled" });
}

export interface VerifyAnswer {
  status: number;
  body: { result: number; valid: boolean; error?: string; token?: { id: string; projects: "*" | string[] } };
}

/** Asks /v1/verify about a secret the way a downstream API would, with `?session=`. */
export async function verify(secret: string, query: Record<string, string> = {}): Promise<VerifyAnswer> {
  const params = new URLSearchParams({ session: secret, ...query });
  const res = await fetch(`${baseUrl}/v1/verify?${params}`);
  return { status: res.status, body: (await res.json()) as VerifyAnswer["body"] };
}

/** A same-origin call from the console's page, as the console itself makes it (cookie and Origin included). */
// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely by the tests, as JSON.
export async function call<T = any>(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const res = await fetch(path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text === "" ? null : JSON.parse(text) };
    },
    { method, path, body },
  );
}

/** The instance owner and first organization every browser file signs in as (console.test.ts sets them up). */
export const OWNER = { email: "owner@acme.test", password: "correct horse battery staple" };
export const ORG = { slug: "acme", name: "Acme Corp" };

/** Signs the page in as OWNER, running first-run setup when this instance has none yet; answers the status. */
export async function signInOwner(page: Page): Promise<number> {
  await page.goto("/");
  const { needed } = (await call<{ needed: boolean }>(page, "GET", "/api/setup")).body;
  const signIn = needed
    ? await call(page, "POST", "/api/setup", {
        email: OWNER.email,
        password: OWNER.password,
        org: ORG,
        setupToken: SETUP_TOKEN,
      })
    : await call(page, "POST", "/api/session", { email: OWNER.email, password: OWNER.password });
  return signIn.status;
}

/** Waits for the dialog `title`, confirming OWNER's password first when the console asks for it. */
export async function afterSudo(page: Page, title: string | RegExp): Promise<Locator> {
  const sudo = page.getByRole("dialog", { name: "Confirm your password" });
  const shown = page.getByRole("dialog", { name: title });
  await sudo.or(shown).waitFor();
  if (await sudo.isVisible()) {
    await sudo.getByLabel("Password").fill(OWNER.password);
    await sudo.getByRole("button", { name: "Confirm" }).click();
  }
  await shown.waitFor();
  return shown;
}
