// The expiry section of the create dialog, also used by a token's regenerate form: presets, a date, the
// organization's policy shown and applied.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Policies, Token } from "../client";
import { absolute, DAY_MS, EXPIRY_PRESETS, type ExpiryPreset, expiryOf, LATEST_EXPIRY_MS, localDay } from "../format";
import { Field } from "../ui";

/** What the organization's policy says of a kind's expiry (docs/API.md, "Token policies"). */
export type LifetimeRule = Policies["lifetime"]["org"];

/** The last day a policy of `maxDays` allows, as the dialog writes dates. */
export const lastAllowedDay = (maxDays: number) =>
  absolute(new Date(Date.now() + (maxDays - 1) * DAY_MS).toISOString());

/** A copy starts from its original's expiry: never, the same date while it is ahead, else a choice to make. */
function initialExpiry(source?: Token): [ExpiryPreset | "", string] {
  if (!source) return ["30", ""];
  if (source.expiresAt === null) return ["none", ""];
  if (Date.parse(source.expiresAt) > Date.now() + DAY_MS) return ["date", localDay(Date.parse(source.expiresAt))];
  return ["", ""];
}

/** A preset the policy does not allow: "No expiration" where one is required, a period at or past its maximum. */
const beyond = (rule: LifetimeRule | undefined, preset: ExpiryPreset | "") =>
  !!rule &&
  ((preset === "none" && rule.expiryRequired) ||
    (rule.maxLifetimeDays !== null &&
      preset !== "" &&
      preset !== "none" &&
      preset !== "date" &&
      Number(preset) >= rule.maxLifetimeDays));

export function useExpiry(source?: Token, rule?: LifetimeRule) {
  const [initialPreset, initialDate] = initialExpiry(source);
  const [preset, setPreset] = useState<ExpiryPreset | "">(initialPreset);
  // Once the organization's policy is known, a preset it forbids becomes a choice to make.
  useEffect(() => {
    if (beyond(rule, preset)) setPreset("");
  }, [rule]);
  const [date, setDate] = useState(initialDate);
  const expiresAt = preset === "" ? undefined : expiryOf(preset, date);
  const fields = (f: Record<string, string>, rule?: LifetimeRule): JSX.Element => (
    <fieldset>
      <legend>Expiration</legend>
      {rule?.expiryRequired && (
        <p class="muted" role="note">
          Policy:{" "}
          {rule.maxLifetimeDays === null
            ? "an expiry is required."
            : `an expiry within ${rule.maxLifetimeDays} days, no later than ${lastAllowedDay(rule.maxLifetimeDays)}.`}
        </p>
      )}
      <div class="row">
        <Field label="Expires" name="expiresAt" error={f.expiresAt}>
          <select value={preset} onChange={(e) => setPreset(e.currentTarget.value as ExpiryPreset)}>
            {preset === "" && <option value="">Choose…</option>}
            {EXPIRY_PRESETS.filter((d) => !beyond(rule, d)).map((d) => (
              <option value={d}>{d} days</option>
            ))}
            <option value="date">On a date…</option>
            {!rule?.expiryRequired && <option value="none">No expiration</option>}
          </select>
        </Field>
        {preset === "date" && (
          <Field label="Date">
            <input
              type="date"
              required
              min={localDay(Date.now() + DAY_MS)}
              max={localDay(Date.now() + LATEST_EXPIRY_MS)}
              value={date}
              onInput={(e) => setDate(e.currentTarget.value)}
            />
          </Field>
        )}
      </div>
      {preset === "none" ? (
        <p class="warn" role="note">
          A token that never expires stays dangerous if it leaks. Prefer an expiry; Tessera deletes a token without one
          after 60 days unused.
        </p>
      ) : (
        expiresAt && <p class="muted">The token will expire on {absolute(expiresAt)}.</p>
      )}
    </fieldset>
  );
  return { preset, expiresAt, fields };
}
