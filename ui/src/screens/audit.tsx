// The organization's audit log, newest first, a page at a time.
import { useState } from "preact/hooks";
import { api, type AuditEvent } from "../client";
import { Empty, Err, Loading, Page, Time, useLoad } from "../ui";

const detailText = (d: Record<string, unknown>) =>
  Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");

export function Audit(props: { org: string }) {
  const first = useLoad(() => api.audit(props.org), [props.org]);
  const [more, setMore] = useState<{ items: AuditEvent[]; next: string | null } | null>(null);
  const items = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const next = more ? more.next : first.data?.next;
  const loadMore = async () => {
    const page = await api.audit(props.org, next!);
    setMore({ items: [...(more?.items ?? []), ...page.items], next: page.next });
  };
  return (
    <Page title="Audit log" sub="Every change to tokens, members and settings, newest first.">
      {first.error ? (
        <Err text={first.error} />
      ) : !first.data ? (
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
                  {e.actor.label ?? (e.actor.type === "system" ? "Tessera" : `${e.actor.type} ${e.actor.id ?? ""}`)}
                  {e.ip && <div class="muted small">{e.ip}</div>}
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.target ? (e.target.label ?? `${e.target.type ?? ""} ${e.target.id ?? ""}`) : ""}</td>
                <td class="small">{detailText(e.detail ?? {})}</td>
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
