// The organization's audit log, newest first, a page at a time.
import { useState } from "preact/hooks";
import { api, type AuditEvent } from "../client";
import { absolute } from "../format";
import { Empty, Err, Loading, Page, Time, useLoad } from "../ui";

const short = (id: string | null) => (id ? `${id.slice(0, 8)}…` : "");

/** `expiresAt: 1797929113003` reads as a date, lists as lists, nothing as "none". */
const detailText = (d: Record<string, unknown>) =>
  Object.entries(d)
    .map(([k, v]) => {
      const text =
        v === null ? "none" : Array.isArray(v) ? v.join(", ") : typeof v === "number" && k.endsWith("At") ? absolute(new Date(v).toISOString()) : typeof v === "object" ? JSON.stringify(v) : String(v);
      return `${k}: ${text}`;
    })
    .join(" · ");

export function Audit(props: { org: string }) {
  // Members give people's emails for the ids the log records.
  const first = useLoad(() => Promise.all([api.audit(props.org), api.members(props.org)]), [props.org]);
  const [more, setMore] = useState<{ items: AuditEvent[]; next: string | null } | null>(null);
  const [events, members] = first.data ?? [];
  const items = [...(events?.items ?? []), ...(more?.items ?? [])];
  const next = more ? more.next : events?.next;
  const emails = new Map(members?.items.map((m) => [m.user.id, m.user.email]));
  const who = (a: AuditEvent["actor"]) => (a.type === "system" ? "Tessera" : a.type === "user" ? (emails.get(a.id!) ?? `user ${short(a.id)}`) : `token ${short(a.id)}`);
  const loadMore = async () => {
    const page = await api.audit(props.org, next!);
    setMore({ items: [...(more?.items ?? []), ...page.items], next: page.next });
  };
  return (
    <Page title="Audit log" sub="Every change to tokens, members and settings, newest first.">
      {first.error ? (
        <Err text={first.error} />
      ) : !events ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title="Nothing has happened yet.">
          <p>Creating a token or adding a member writes the first event.</p>
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Target</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.id}>
                <td>
                  <Time iso={e.at} />
                </td>
                <td>
                  {who(e.actor)}
                  {e.ip && <div class="muted small">{e.ip}</div>}
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.target?.type === "token" && e.target.id ? (
                    <a href={`/orgs/${props.org}/tokens/${e.target.id}`}>token {short(e.target.id)}</a>
                  ) : (
                    e.target && `${e.target.type} ${e.target.type === "user" ? (emails.get(e.target.id!) ?? short(e.target.id)) : short(e.target.id)}`
                  )}
                </td>
                <td class="small">{detailText(e.detail)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button class="more" onClick={loadMore}>
          Load more
        </button>
      )}
    </Page>
  );
}
