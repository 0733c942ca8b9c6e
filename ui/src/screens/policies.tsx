// An organization's token policies (docs/API.md, "Token policies"): lifetimes per kind, the permission sets
// personal tokens may use, and when expiry notices go out. Part of the settings screen, for its admins.
import { useState } from "preact/hooks";
import { api, type PermissionSet, type Policies, type PoliciesBody } from "../client";
import { Err, Field, Loading, useForm, useLoad } from "../ui";

type Kind = "org" | "group" | "personal";
const KINDS: [Kind, string][] = [
  ["org", "Organization tokens"],
  ["group", "Group tokens"],
  ["personal", "Personal tokens"],
];

export function PoliciesPanel(props: { org: string }) {
  const data = useLoad(() => Promise.all([api.policies(props.org), api.permissionSets()]), [props.org]);
  if (data.error) return <Err text={data.error} />;
  if (!data.data) return <Loading />;
  return <PoliciesForm org={props.org} policies={data.data[0]} sets={data.data[1].items} />;
}

function PoliciesForm(props: { org: string; policies: Policies; sets: PermissionSet[] }) {
  const p = props.policies;
  const [days, setDays] = useState(
    Object.fromEntries(KINDS.map(([k]) => [k, p.lifetime[k].maxLifetimeDays?.toString() ?? ""])) as Record<
      Kind,
      string
    >,
  );
  const [required, setRequired] = useState(
    Object.fromEntries(KINDS.map(([k]) => [k, p.lifetime[k].expiryRequired])) as Record<Kind, boolean>,
  );
  const [sets, setSets] = useState<string[] | null>(p.personalPermissionSets);
  const [notices, setNotices] = useState(p.expiryNoticeDays.join(", "));
  const [saved, setSaved] = useState("");
  const form = useForm(async () => {
    const lifetime = Object.fromEntries(
      KINDS.map(([k]) => [k, { maxLifetimeDays: days[k] ? Number(days[k]) : null, expiryRequired: required[k] }]),
    ) as PoliciesBody["lifetime"];
    const body: PoliciesBody = {
      lifetime,
      personalPermissionSets: sets,
      expiryNoticeDays: notices
        .split(",")
        .map((d) => d.trim())
        .filter(Boolean)
        .map(Number),
    };
    const answer = await api.savePolicies(props.org, body);
    setSaved(
      answer.tokensMoved > 0 ? `Saved. The expiry of ${answer.tokensMoved} live tokens changed with it.` : "Saved.",
    );
  });
  const edit = () => setSaved("");
  return (
    <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit} class="panel" aria-label="Policies">
      <h2>Policies</h2>
      <p class="muted">
        A maximum lifetime applies to new tokens and to existing ones: a token older than it allows stops working on the
        day its lifetime ends (counted from when its secret was made), and is marked “Cut by policy” until then. At most{" "}
        {p.instance.maxLifetimeDays} days.
      </p>
      {KINDS.map(([k, label]) => (
        <fieldset key={k}>
          <legend>{label}</legend>
          <div class="row">
            <Field
              label="Maximum lifetime (days)"
              name={`lifetime.${k}.maxLifetimeDays`}
              error={form.fields[`lifetime.${k}.maxLifetimeDays`]}
            >
              <input
                type="number"
                min={1}
                max={p.instance.maxLifetimeDays}
                placeholder="No limit"
                value={days[k]}
                onInput={(e) => {
                  setDays({ ...days, [k]: e.currentTarget.value });
                  edit();
                }}
              />
            </Field>
            <label class="check">
              <input
                type="checkbox"
                checked={required[k] || !!days[k]}
                disabled={!!days[k]}
                onChange={() => {
                  setRequired({ ...required, [k]: !required[k] });
                  edit();
                }}
              />{" "}
              Expiry required
            </label>
          </div>
        </fieldset>
      ))}
      <fieldset data-field="personalPermissionSets">
        <legend>Permission sets personal tokens may use</legend>
        <label class="check">
          <input type="radio" name="sets" checked={sets === null} onChange={() => setSets(null)} /> Any permissions
        </label>
        <label class="check">
          <input type="radio" name="sets" checked={sets !== null} onChange={() => setSets([])} /> Only these sets
        </label>
        {sets !== null &&
          props.sets.map((s) => (
            <label class="check" key={s.id}>
              <input
                type="checkbox"
                checked={sets.includes(s.id)}
                onChange={() => setSets(sets.includes(s.id) ? sets.filter((x) => x !== s.id) : [...sets, s.id])}
              />{" "}
              {s.name}
            </label>
          ))}
        {form.fields.personalPermissionSets && <p class="err">{form.fields.personalPermissionSets}</p>}
      </fieldset>
      <Field
        label="Expiry notices (days before)"
        name="expiryNoticeDays"
        error={form.fields.expiryNoticeDays}
        hint={`Up to 5, separated by commas; empty sends none. Idle tokens without an expiry are warned ${p.instance.purgeWarningDays} days before they are removed after ${p.instance.purgeUnusedAfterDays} days unused.`}
      >
        <input value={notices} onInput={(e) => setNotices(e.currentTarget.value)} />
      </Field>
      <Err text={form.error} />
      <div class="row">
        <button type="submit" class="primary" disabled={form.busy}>
          Save policies
        </button>
        <span role="status" class="muted">
          {saved}
        </span>
      </div>
    </form>
  );
}
