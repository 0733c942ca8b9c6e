// Settings → Webhook, below the address: which events the webhook receives, and its delivery log
// (the newest 50, each with a Redeliver button). A chunk of its own, loaded with the settings page.
import { useState } from "preact/hooks";
import { isCancel } from "../api";
import { api, type WebhookDelivery, type WebhookSubscription } from "../client";
import { Empty, Err, Loading, message, Time, toast, useForm, useLoad } from "../ui";

const STATE_LABEL: Record<WebhookDelivery["state"], string> = {
  pending: "Pending",
  retrying: "Retrying",
  delivered: "Delivered",
  failed: "Failed",
};

export function WebhookEvents(props: { org: string }) {
  const subscription = useLoad(() => api.webhookEvents(props.org), [props.org]);
  const log = useLoad(() => api.webhookDeliveries(props.org), [props.org]);
  return (
    <>
      {subscription.error ? (
        <Err text={subscription.error} />
      ) : !subscription.data ? (
        <Loading />
      ) : (
        <EventsForm org={props.org} subscription={subscription.data} onSaved={subscription.set} />
      )}
      <section aria-labelledby="deliveries-title">
        <div class="row">
          <h2 id="deliveries-title">Recent deliveries</h2>
          <button type="button" onClick={log.reload} disabled={log.loading}>
            Refresh
          </button>
        </div>
        {log.error ? (
          <Err text={log.error} />
        ) : !log.data ? (
          <Loading />
        ) : (
          <Deliveries
            org={props.org}
            items={log.data.items}
            onChange={(d) => log.set({ ...log.data!, items: log.data!.items.map((x) => (x.id === d.id ? d : x)) })}
          />
        )}
      </section>
    </>
  );
}

function EventsForm(props: {
  org: string;
  subscription: WebhookSubscription;
  onSaved: (s: WebhookSubscription) => void;
}) {
  const [chosen, setChosen] = useState(new Set(props.subscription.events));
  const [saved, setSaved] = useState(false);
  const form = useForm(async () => {
    props.onSaved(await api.setWebhookEvents(props.org, [...chosen]));
    setSaved(true);
  });
  const toggle = (type: WebhookSubscription["events"][number], on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(type);
    else next.delete(type);
    setChosen(next);
    setSaved(false);
  };
  return (
    <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit} class="panel">
      <fieldset data-field="events">
        <legend>Events</legend>
        <p class="muted">The webhook receives only the events checked here.</p>
        <div>
          {props.subscription.available.map((type) => (
            <label key={type} class="check">
              <input
                type="checkbox"
                name="events"
                value={type}
                checked={chosen.has(type)}
                onChange={(e) => toggle(type, e.currentTarget.checked)}
              />{" "}
              <code>{type}</code>
            </label>
          ))}
        </div>
        <Err text={form.fields.events} />
      </fieldset>
      <Err text={form.error} />
      <div class="row">
        <button type="submit" class="primary" disabled={form.busy}>
          Save events
        </button>
        <span role="status" class="muted">
          {saved && "Saved."}
        </span>
      </div>
    </form>
  );
}

function Deliveries(props: { org: string; items: WebhookDelivery[]; onChange: (d: WebhookDelivery) => void }) {
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const redeliver = async (d: WebhookDelivery) => {
    setBusy(d.id);
    setError("");
    try {
      const after = await api.redeliver(props.org, d.id);
      props.onChange(after);
      toast(after.state === "delivered" ? "Delivered again." : "Sent again; the receiver did not accept it.");
    } catch (e) {
      if (!isCancel(e)) setError(message(e));
    }
    setBusy("");
  };
  if (props.items.length === 0)
    return (
      <Empty title="Nothing has been sent yet.">
        <p>Events appear here as soon as they are queued, with each attempt's answer.</p>
      </Empty>
    );
  return (
    <>
      <Err text={error} />
      <table>
        <thead>
          <tr>
            <th>Event</th>
            <th>When</th>
            <th>State</th>
            <th>Attempts</th>
            <th>Answer</th>
            <th>
              <span class="sr">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((d) => (
            <tr key={d.id}>
              <td>
                <code>{d.type}</code>
                <div class="muted small">{d.id}</div>
              </td>
              <td>
                <Time iso={d.createdAt} />
              </td>
              <td>
                {STATE_LABEL[d.state]}
                {d.nextAttemptAt && d.state === "retrying" && (
                  <div class="muted small">
                    next <Time iso={d.nextAttemptAt} />
                  </div>
                )}
              </td>
              <td>{d.attempts}</td>
              <td class="small">{d.error ?? (d.status === null ? "" : `HTTP ${d.status}`)}</td>
              <td>
                <button
                  type="button"
                  onClick={() => redeliver(d)}
                  disabled={busy !== ""}
                  aria-label={`Redeliver ${d.type} ${d.id}`}
                >
                  {busy === d.id ? "Sending…" : "Redeliver"}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
