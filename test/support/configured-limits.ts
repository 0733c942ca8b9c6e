import wranglerToml from "../../wrangler.toml?raw";

/**
 * The unknown-token rate as deployed: read from wrangler.toml's `[[ratelimits]]` block for
 * UNKNOWN_TOKEN_LIMITER, so the code-9 test follows the configuration instead of a copy of it.
 */
export function configuredUnknownTokenLimit(): { limit: number; periodSeconds: number } {
  const block = wranglerToml.split("[[ratelimits]]").find((b) => /name\s*=\s*"UNKNOWN_TOKEN_LIMITER"/.test(b));
  const match = block?.match(/simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/);
  if (!match) throw new Error("wrangler.toml has no simple rate for UNKNOWN_TOKEN_LIMITER");
  return { limit: Number(match[1]), periodSeconds: Number(match[2]) };
}
