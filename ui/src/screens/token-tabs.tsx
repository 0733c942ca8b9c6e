// The token page's tabs: its details (the page's own facts, the panel after this tab list) and its
// history (a chunk of its own, fetched when opened). The open tab is in the address (`?tab=history`),
// so a reload or a shared link opens the same one; with History open, the stylesheet hides the details
// (the facts and the usage chart).
import { useRef } from "preact/hooks";
import type { Scope } from "../client";
import { go, route } from "../router";
import { useStore } from "../store";
import { lazy } from "../ui";

const TokenHistory = lazy(() => import("./history").then((m) => m.TokenHistory));

const TABS = [
  ["details", "Details"],
  ["history", "History"],
] as const;

export function TokenTabs(props: { scope: Scope; id: string }) {
  const loc = useStore(route);
  const tab = loc.query.get("tab") === "history" ? "history" : "details";
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const show = (name: string) => go(`${loc.path}${name === "details" ? "" : `?tab=${name}`}`, true);
  // Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
  const onKey = (e: KeyboardEvent, i: number) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const next = (i + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length;
    show(TABS[next]![0]);
    refs.current[next]?.focus();
  };
  return (
    <>
      <div role="tablist" aria-label="Token" class="tabs" data-open={tab}>
        {TABS.map(([name, label], i) => (
          <button
            type="button"
            role="tab"
            id={`tab-${name}`}
            ref={(el) => {
              refs.current[i] = el;
            }}
            aria-selected={tab === name}
            aria-controls={`panel-${name}`}
            tabIndex={tab === name ? 0 : -1}
            onClick={() => show(name)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === "history" && (
        <div role="tabpanel" id="panel-history" aria-labelledby="tab-history">
          <TokenHistory scope={props.scope} id={props.id} />
        </div>
      )}
    </>
  );
}
