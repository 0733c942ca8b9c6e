/** Debian's Chromium, where scripts/chromium.mjs installs it. */
export const CHROMIUM: string;
/** The instance's SETUP_TOKEN: first-run setup asks for it. */
export const SETUP_TOKEN: string;
export function startServer(): Promise<{ url: string; persist: string; stop: () => Promise<void> }>;
export function d1(persist: string, sql: string): string;
export function screenshotDirs(): { results: string; docs: string };
export function readText(path: string): string;
