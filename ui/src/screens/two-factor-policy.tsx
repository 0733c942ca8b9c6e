// An organization's rule that its admins sign in with two factors (docs/API.md "Two-factor policy").
import { useState } from "preact/hooks";
import { call } from "../api";
import { routes } from "../client";
import { Err, Loading, useForm, useLoad } from "../ui";

const policy = routes.orgs[":org"]["two-factor-policy"];

export function TwoFactorPolicy(props: { org: string }) {
  const current = useLoad(() => call(() => policy.$get({ param: { org: props.org } })), [props.org]);
  const [saved, setSaved] = useState(false);
  const form = useForm(async () => {
    const requiredForAdmins = !current.data!.requiredForAdmins;
    current.set(await call(() => policy.$put({ param: { org: props.org }, json: { requiredForAdmins } })));
    setSaved(true);
  });
  if (current.error) return <Err text={current.error} />;
  if (!current.data) return <Loading />;
  const on = current.data.requiredForAdmins;
  return (
    <form class="panel" onSubmit={form.onSubmit}>
      <h2>Two-factor sign-in</h2>
      <p>
        {on
          ? "Required: admins of this organization and its groups who sign in without a second factor are sent to their account page to turn it on before they can manage anything here."
          : "Not required. When required, admins of this organization and its groups must turn on two-factor sign-in before they can manage anything here. Admin tokens are not affected."}
      </p>
      <Err text={form.error} />
      <div class="row">
        <button type="submit" class={on ? "danger" : "primary"} disabled={form.busy}>
          {on ? "Stop requiring two-factor sign-in" : "Require two-factor sign-in for admins"}
        </button>
        <span role="status" class="muted">
          {saved && "Saved."}
        </span>
      </div>
    </form>
  );
}
