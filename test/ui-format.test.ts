// The console's display logic (ui/src/format.ts): DOM-free, so it runs here with the worker tests.
import { describe, expect, it } from "vitest";
import {
  DAY_MS,
  expiryOf,
  LATEST_EXPIRY_MS,
  localDay,
  matches,
  permissionsSummary,
  projectsSummary,
  relative,
  STATUS_LABEL,
  safeNext,
  slugify,
  tooLate,
  EXPIRING_WINDOW_MS as UI_WINDOW,
} from "../ui/src/format";
import { EXPIRING_WINDOW_MS } from "../worker/limits";
import { TOKEN_STATUSES } from "../worker/tokens/status";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe("relative dates", () => {
  it("reads as a person would say it, in both directions", () => {
    expect(relative(at(3 * DAY_MS), NOW, "en")).toBe("in 3 days");
    expect(relative(at(-2 * 3_600_000), NOW, "en")).toBe("2 hours ago");
    expect(relative(at(-DAY_MS), NOW, "en")).toBe("yesterday");
    expect(relative(at(20_000), NOW, "en")).toBe("now");
    expect(relative(at(90 * DAY_MS), NOW, "en")).toBe("in 3 months");
  });

  it("follows the locale it is given", () => {
    expect(relative(at(3 * DAY_MS), NOW, "de")).toBe("in 3 Tagen");
  });
});

describe("status words", () => {
  it("has the product's fixed word for every status the worker derives", () => {
    expect(Object.keys(STATUS_LABEL).sort()).toEqual([...TOKEN_STATUSES].sort());
    expect(STATUS_LABEL.expiring).toBe("About to expire");
  });

  it("uses the worker's window for 'About to expire'", () => {
    expect(UI_WINDOW).toBe(EXPIRING_WINDOW_MS);
  });
});

describe("expiry presets", () => {
  it("counts days from now, to the end of that day (so a 7-day token is Active, not About to expire)", () => {
    for (const days of [7, 90]) {
      const end = new Date(expiryOf(String(days) as "7" | "90", "", NOW)!);
      const day = new Date(NOW + days * DAY_MS);
      expect([end.getFullYear(), end.getMonth(), end.getDate(), end.getHours(), end.getMinutes()]).toEqual([
        day.getFullYear(),
        day.getMonth(),
        day.getDate(),
        23,
        59,
      ]);
      expect(end.getTime() - NOW).toBeGreaterThanOrEqual(UI_WINDOW);
    }
  });

  it("refuses a date beyond the API's longest lifetime", () => {
    expect(tooLate("2999-12-31T23:59:59Z", NOW)).toBe(true);
    expect(tooLate(new Date(NOW + LATEST_EXPIRY_MS).toISOString(), NOW)).toBe(false);
    expect(tooLate(null, NOW)).toBe(false);
  });

  it("means no expiry for 'none'", () => {
    expect(expiryOf("none", "", NOW)).toBeNull();
  });

  it("lasts to the end of a picked day, and refuses a missing or past date", () => {
    const end = expiryOf("date", "2027-01-31", NOW)!;
    const d = new Date(end);
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes()]).toEqual([2027, 0, 31, 23, 59]);
    expect(expiryOf("date", "", NOW)).toBeUndefined();
    expect(expiryOf("date", "2026-01-01", NOW)).toBeUndefined();
  });

  it("gives the date input its local day", () => {
    expect(localDay(new Date(2027, 0, 5, 10).getTime())).toBe("2027-01-05");
  });
});

describe("summaries", () => {
  it("says what a token's projects are at a glance", () => {
    expect(projectsSummary("*")).toBe("All projects");
    expect(projectsSummary([])).toBe("No projects");
    expect(projectsSummary(["web", "api"])).toBe("web, api");
    expect(projectsSummary(["a", "b", "c", "d"])).toBe("a, b +2 more");
  });

  it("names the permission set, or the one method, or how many", () => {
    expect(permissionsSummary(["x:y", "y:z"], "IDE plugins")).toBe("IDE plugins");
    expect(permissionsSummary(["analysis:execute"])).toBe("analysis:execute");
    expect(permissionsSummary(["a", "b", "c"])).toBe("3 methods");
  });
});

describe("inputs", () => {
  it("searches case-insensitively across texts; an empty search matches all", () => {
    expect(matches("WEB", "web-shop", null)).toBe(true);
    expect(matches("shop", "web", "Web shop")).toBe(true);
    expect(matches("docs", "web", "Web shop")).toBe(false);
    expect(matches("  ", "anything")).toBe(true);
  });

  it("makes slugs the API accepts", () => {
    expect(slugify("Acme Corp.")).toBe("acme-corp");
    expect(slugify("  Ünïcode & Co  ")).toBe("unicode-co");
    expect(slugify("---")).toBe("");
    expect(slugify(`${"a".repeat(39)} b`)).toBe("a".repeat(39));
  });

  it("only returns to paths on this site after sign-in", () => {
    expect(safeNext("/orgs/acme/tokens/1")).toBe("/orgs/acme/tokens/1");
    expect(safeNext("//evil.example/x")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
