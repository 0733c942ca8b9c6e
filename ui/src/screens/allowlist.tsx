// A token's IP allowlist as the console edits it: one address or CIDR range a line; the API checks and
// normalizes each (an error names the line it refused, beside the field).
import { useState } from "preact/hooks";
import { Field } from "../ui";

/** The ranges typed, one a line; none means any address (null). */
export function rangesOf(text: string): string[] | null {
  const ranges = text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean);
  return ranges.length > 0 ? ranges : null;
}

export const ALLOWLIST_HINT =
  "One IPv4 or IPv6 address or CIDR range a line (203.0.113.0/24, 2001:db8::/48), at most 20. Empty: any address.";

export function useAllowlist(initial: string[] | null | undefined) {
  const [text, setText] = useState((initial ?? []).join("\n"));
  return {
    ranges: () => rangesOf(text),
    field: (error: string | undefined) => (
      <Field label="Allowed addresses (optional)" name="allowedIps" hint={ALLOWLIST_HINT} error={error}>
        <textarea rows={3} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
    ),
  };
}
