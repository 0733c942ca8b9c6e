// The organization's audit log, newest first, a page at a time.
import { api } from "../client";
import { absolute } from "../format";
import { Empty, Err, Loading, LoadMore, Page, Time, usePaged } from "../ui";

const short = (id: string | null) => (id ? `${id.slice(0, 8)}…` : "");

/** `expiresAt: 1797929113003` reads as a date, lists as lists, nothing as "none". */
const detailText = (d: Record<string, unknown>) =>
  Object.entries(d)
    .map(([k, v]) => {
      const text =
        v === null
          ? "none"
          : Array.isArray(v)
            ? v.join(", ")
            : typeof v === "number" && k.endsWith("At")
              ? absolute(new Date(v).toISOString())
              : typeof v === "object"
                ? JSON.stringify(v)
                : String(v);
      return `${k}: ${text}`;
    })
    .join(" · ");

/** The API's label (an email, a token's name, a slug...), or the short id of what no longer has one. */
const named = (x: { type: string; id: string | null; label: string | null }) => x.label ?? `${x.type} ${short(x.id)}`;

export function Audit(props: { org: string }) {
  const list = usePaged((cursor) => api.audit(props.org, cursor), [props.org]);
  const items = list.items;
  const tokenLink = (id: string, text: string) => <a href={`/orgs/${props.org}/tokens/${id}`}>{text}</a>;
  return (
    <Page title="Audit log" sub="Every change to tokens, members and settings, newest first.">
      {list.error ? (
        <Err text={list.error} />
      ) : !list.data ? (
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
                  {e.actor.type === "token" && e.actor.label ? tokenLink(e.actor.id!, e.actor.label) : named(e.actor)}
                  {e.ip && <div class="muted small">{e.ip}</div>}
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.target && (
                    <>
                      <span class="muted">{e.target.type.replace("_", " ")}</span>{" "}
                      {e.target.type === "token" && e.target.id
                        ? tokenLink(e.target.id, e.target.label ?? short(e.target.id))
                        : (e.target.label ?? short(e.target.id))}
                    </>
                  )}
                </td>
                <td class="small">{detailText(e.detail)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={list} />
    </Page>
  );
}
