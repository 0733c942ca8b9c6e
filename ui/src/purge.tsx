// The 60-day purge of idle tokens without an expiry, as the console shows it: "Unused — removed in N days"
// once the token is inside the purge warning's window (docs/CRON.md, "Purge warnings").
import { useEffect, useState } from "preact/hooks";
import { api, type Token } from "./client";
import { DAY_MS } from "./format";

// The instance's numbers are the same in every organization: asked once per page load.
let numbers: Promise<{ purgeUnusedAfterDays: number; purgeWarningDays: number }> | null = null;

/** Whole days until the token is purged, when that is within the warning window; null otherwise. */
export function useUnusedDaysLeft(t: Token | undefined): number | null {
  const [days, setDays] = useState<number | null>(null);
  const idle = !!t && t.expiresAt === null && t.status !== "revoked";
  useEffect(() => {
    if (!t || !idle) return setDays(null);
    numbers ??= api.policies(t.org.slug).then((p) => p.instance);
    numbers
      .then((n) => {
        const purgeAt = Date.parse(t.lastUsedAt ?? t.createdAt) + n.purgeUnusedAfterDays * DAY_MS;
        const left = Math.max(0, Math.ceil((purgeAt - Date.now()) / DAY_MS));
        setDays(left <= n.purgeWarningDays ? left : null);
      })
      .catch(() => {
        numbers = null;
      });
  }, [t?.id, t?.lastUsedAt, idle]);
  return days;
}

export function UnusedBadge(props: { t: Token }) {
  const left = useUnusedDaysLeft(props.t);
  if (left === null) return null;
  return (
    <span class="badge expiring">
      Unused — removed {left === 0 ? "today" : `in ${left} day${left === 1 ? "" : "s"}`}
    </span>
  );
}
