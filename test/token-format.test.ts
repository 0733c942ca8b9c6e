import { describe, expect, it } from "vitest";
import { TOKEN_KINDS } from "../worker/db/schema";
import {
  crc32,
  generateTokenSecret,
  parseToken,
  TOKEN_LENGTH,
  TOKEN_PATTERN,
  TOKEN_PREFIXES,
  tokenHint,
} from "../worker/tokens/format";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_START = 4;
const RANDOM_END = 34;

describe("token format (docs/DESIGN.md §2)", () => {
  it("generates, for every kind, a 40-character token with its prefix that matches the published pattern", () => {
    for (const kind of TOKEN_KINDS) {
      for (let i = 0; i < 200; i++) {
        const token = generateTokenSecret(kind);
        expect(token).toMatch(/^ts[ogp]_[0-9A-Za-z]{36}$/);
        expect(token).toMatch(TOKEN_PATTERN);
        expect(token).toHaveLength(TOKEN_LENGTH);
        expect(token.startsWith(TOKEN_PREFIXES[kind])).toBe(true);
        expect(parseToken(token)).toBe(kind);
      }
    }
  });

  it('uses the standard CRC-32 (check value of "123456789" is CBF43926)', () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("")).toBe(0);
  });

  it("refuses every one-character change, at every position, through the checksum", () => {
    for (const kind of TOKEN_KINDS) {
      const token = generateTokenSecret(kind);
      let variants = 0;
      // The kind letter and every base62 position: the changed string still matches the pattern, so
      // only the checksum can refuse it.
      const positions = [2, ...Array.from({ length: TOKEN_LENGTH - RANDOM_START }, (_, i) => RANDOM_START + i)];
      for (const at of positions) {
        const alphabet = at === 2 ? "ogp" : BASE62;
        for (const replacement of alphabet) {
          if (replacement === token[at]) continue;
          const changed = token.slice(0, at) + replacement + token.slice(at + 1);
          expect(changed).toMatch(TOKEN_PATTERN);
          expect(parseToken(changed), `${at}:${replacement}`).toBeNull();
          variants++;
        }
      }
      expect(variants).toBe(2 + 36 * 61);
    }
  });

  it("refuses two swapped neighbouring characters and a truncated or extended token", () => {
    const token = generateTokenSecret("org");
    for (let at = RANDOM_START; at < TOKEN_LENGTH - 1; at++) {
      if (token[at] === token[at + 1]) continue;
      const swapped = token.slice(0, at) + token[at + 1] + token[at] + token.slice(at + 2);
      expect(parseToken(swapped)).toBeNull();
    }
    expect(parseToken(token.slice(0, -1))).toBeNull();
    expect(parseToken(`${token}0`)).toBeNull();
    expect(parseToken(`x${token.slice(1)}`)).toBeNull();
    expect(parseToken(`tsx_${token.slice(4)}`)).toBeNull();
    expect(parseToken(token.toUpperCase())).toBeNull();
  });

  it("generates 10,000 distinct tokens", () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 10_000; i++) tokens.add(generateTokenSecret("personal"));
    expect(tokens.size).toBe(10_000);
  });

  it("draws the 30 random characters uniformly from base62 (no modulo bias: about 178 bits)", () => {
    const counts = new Map<string, number>();
    const samples = 10_000;
    for (let i = 0; i < samples; i++) {
      for (const ch of generateTokenSecret("org").slice(RANDOM_START, RANDOM_END))
        counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (samples * (RANDOM_END - RANDOM_START)) / 62;
    // About 70 is one standard deviation here; `byte % 62` without redraws would put "0"-"7" 25% high.
    for (const [ch, n] of counts) expect(Math.abs(n - expected) / expected, ch).toBeLessThan(0.08);
  });

  it("shows only the prefix and the last four characters as the hint", () => {
    const token = generateTokenSecret("group");
    const hint = tokenHint(token);
    expect(hint).toBe(`tsg_…${token.slice(-4)}`);
    expect(hint).not.toContain(token.slice(4, -4));
  });
});
