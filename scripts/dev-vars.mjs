// `.dev.vars` for local development: the local-only TOKEN_PEPPER from `.dev.vars.example`, and a
// SETUP_TOKEN made for this checkout, which first-run setup asks for (README, "Two commands").
import { randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, readFileSync } from "node:fs";

const SETUP_TOKEN_LINE = /^SETUP_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m;

/** Creates or completes `.dev.vars`; answers this checkout's SETUP_TOKEN. */
export function ensureDevVars() {
  if (!existsSync(".dev.vars")) {
    copyFileSync(".dev.vars.example", ".dev.vars");
    console.log("Created .dev.vars with a local-only TOKEN_PEPPER.");
  }
  const text = readFileSync(".dev.vars", "utf8");
  const found = SETUP_TOKEN_LINE.exec(text);
  if (found) return found[1];
  const token = randomBytes(16).toString("hex");
  const separator = text.endsWith("\n") ? "" : "\n";
  appendFileSync(
    ".dev.vars",
    `${separator}# First-run setup asks for it; made for this checkout.\nSETUP_TOKEN = "${token}"\n`,
  );
  return token;
}
