// Pure display logic (no DOM): dates, status words, scope summaries, expiry presets.
import { TOKEN_MAX_LIFETIME_MS } from "../../worker/limits";

export const DAY_MS = 86_400_000;
/** Matches the worker's EXPIRING_WINDOW_MS: a token closer than this to its expiry is "About to expire". */
export const EXPIRING_WINDOW_MS = 7 * DAY_MS;

export type Status = "active" | "expiring" | "expired" | "disabled" | "revoked";

/** The fixed product words for each status. */
export const STATUS_LABEL: Record<Status, string> = {
  active: "Active",
  expiring: "About to expire",
  expired: "Expired",
  disabled: "Disabled",
  revoked: "Revoked",
};

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * DAY_MS],
  ["month", 30 * DAY_MS],
  ["week", 7 * DAY_MS],
  ["day", DAY_MS],
  ["hour", 3_600_000],
  ["minute", 60_000],
];

/** "in 3 days", "2 hours ago", "now", in the given (default: the user's) locale. */
export function relative(iso: string, now = Date.now(), locale?: string): string {
  const diff = Date.parse(iso) - now;
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return rtf.format(Math.round(diff / ms), unit);
  }
  return rtf.format(0, "second");
}

/** Absolute date and time in the user's locale, for titles and detail pages. */
export function absolute(iso: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function projectsSummary(projects: "*" | string[]): string {
  if (projects === "*") return "All projects";
  if (projects.length === 0) return "No projects";
  if (projects.length <= 2) return projects.join(", ");
  return `${projects.slice(0, 2).join(", ")} +${projects.length - 2} more`;
}

export function permissionsSummary(permissions: string[], setName?: string | null): string {
  if (setName) return setName;
  if (permissions.length === 1) return permissions[0]!;
  return `${permissions.length} methods`;
}

export type ExpiryPreset = "7" | "30" | "60" | "90" | "date" | "none";
export const EXPIRY_PRESETS: ExpiryPreset[] = ["7", "30", "60", "90"];

/** The API's longest token lifetime (TOKEN_MAX_LIFETIME_MS), less a day: the last full day offered. */
export const LATEST_EXPIRY_MS = TOKEN_MAX_LIFETIME_MS - DAY_MS;

/** Whether an expiry lies beyond what the API accepts, so the dialog refuses it before sending. */
export const tooLate = (iso: string | null | undefined, now = Date.now()) =>
  !!iso && Date.parse(iso) > now + TOKEN_MAX_LIFETIME_MS;

/**
 * The expiry a preset means, as ISO, or null for no expiration. Presets and picked dates last to
 * the end of their day in the user's time zone (as GitHub's do), so a new 7-day token is Active, not
 * About to expire. Returns undefined when the date is missing or not in the future.
 */
export function expiryOf(preset: ExpiryPreset, date: string, now = Date.now()): string | null | undefined {
  if (preset === "none") return null;
  if (preset !== "date") {
    const day = new Date(now + Number(preset) * DAY_MS);
    return new Date(day.getFullYear(), day.getMonth(), day.getDate(), 23, 59, 59, 999).toISOString();
  }
  const [y, m, d] = date.split("-").map(Number);
  if (!y || !m || !d) return undefined;
  const end = new Date(y, m - 1, d, 23, 59, 59, 999);
  return end.getTime() > now ? end.toISOString() : undefined;
}

/** `YYYY-MM-DD` of a local day, for the date input's `min`. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Case-insensitive match of a search box against any of the given texts. */
export function matches(query: string, ...texts: (string | null | undefined)[]): boolean {
  const q = query.trim().toLowerCase();
  return q === "" || texts.some((t) => t?.toLowerCase().includes(q));
}

/** A URL slug from a display name: "Acme Corp." -> "acme-corp". */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 40)
    .replace(/^-+|-+$/g, "");
}

/** A `?next=` target that stays on this site (a path, never `//host`). */
export function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}
