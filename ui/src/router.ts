// A small router on the History API: deep links reload to the same view (the worker serves the SPA).
import { store } from "./store";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const read = (): Location => ({ path: location.pathname, query: new URLSearchParams(location.search) });
export const route = store(read());

export function go(to: string, replace = false): void {
  history[replace ? "replaceState" : "pushState"](null, "", to);
  route.set(read());
  if (!replace) scrollTo(0, 0);
}

/** Rewrites the query string of the current page without a history entry (filters, search). */
export function setQuery(params: Record<string, string>): void {
  const q = new URLSearchParams(params);
  for (const [k, v] of [...q]) if (!v) q.delete(k);
  const s = q.toString();
  go(location.pathname + (s ? `?${s}` : ""), true);
}

addEventListener("popstate", () => route.set(read()));

// Same-origin links navigate in place; modified clicks, downloads and new tabs stay with the browser.
document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a");
  if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
  e.preventDefault();
  go(a.pathname + a.search + a.hash);
});

/** Params of `pattern` (e.g. `/orgs/:org/tokens/:id`) when `path` matches it, else null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/");
  const s = path.replace(/\/+$/, "").split("/");
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i]!;
    if (part.startsWith(":")) params[part.slice(1)] = decodeURIComponent(s[i]!);
    else if (part !== s[i]) return null;
  }
  return params;
}
