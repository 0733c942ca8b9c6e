// The browser tests drive Debian's Chromium, never a downloaded browser. On a Debian machine where
// we are root (these machines, CI) a missing one is installed; elsewhere the message says how.
import { existsSync } from "node:fs";
import { run } from "./run.mjs";

export const CHROMIUM = "/usr/lib/chromium/chromium";

/** True when Chromium is there (or was just installed). */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canInstall) {
    console.log(`Chromium is missing at ${CHROMIUM}: install Debian's package (sudo apt-get install -y chromium).`);
    return false;
  }
  console.log("> installing Debian's chromium for the browser tests");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  return (
    run("apt-get", ["update", "-qq"], { env }) === 0 &&
    run("apt-get", ["install", "-y", "-qq", "chromium"], { env }) === 0 &&
    existsSync(CHROMIUM)
  );
}
