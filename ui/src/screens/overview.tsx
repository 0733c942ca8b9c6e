// An organization's tokens at a glance (loaded on demand): how many in each status, what expires soon, what
// nobody uses, this week's verifications, and the tokens refused most this week.
import { useId } from "preact/hooks";
import { api, type Overview as Data } from "../client";
import { STATUS_LABEL, type Status } from "../format";
import { Badge, Empty, Err, Loading, Page, useLoad } from "../ui";

const COLOURS: Record<Status, string> = {
  active: "var(--ok)",
  expiring: "var(--warn)",
  expired: "var(--muted)",
  disabled: "var(--line)",
  revoked: "var(--danger)",
};

export function Overview(props: { org: string }) {
  const o = useLoad(() => api.overview(props.org), [props.org]);
  const tokens = `/orgs/${props.org}/tokens`;
  return (
    <Page title="Overview">
      {o.error ? <Err text={o.error} /> : o.data ? <Glance data={o.data} tokens={tokens} /> : <Loading />}
    </Page>
  );
}

function Glance(props: { data: Data; tokens: string }) {
  const { statuses, expiring, unused, week, refused } = props.data;
  return (
    <>
      <h2>Tokens by status</h2>
      <StatusBar statuses={statuses} tokens={props.tokens} />
      <dl class="facts">
        <dt>Expiring within 7 days</dt>
        <dd>{expiring.days7}</dd>
        <dt>Expiring within 30 days</dt>
        <dd>{expiring.days30}</dd>
        <dt>Unused for 30 days or more</dt>
        <dd>{unused}</dd>
        <dt>Verifications this week</dt>
        <dd>
          {week.valid} valid, {week.denied} denied (permission or project), {week.dead} while dead
        </dd>
      </dl>
      <h2>Refused most this week</h2>
      {refused.length === 0 ? (
        <Empty title="No token was refused this week." />
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Status</th>
              <th scope="col">Denied</th>
              <th scope="col">While dead</th>
            </tr>
          </thead>
          <tbody>
            {refused.map((t) => (
              <tr key={t.id}>
                <td>
                  <a href={`${props.tokens}/${t.id}`}>{t.name}</a>
                </td>
                <td>
                  <Badge status={t.status} />
                </td>
                <td>{t.denied}</td>
                <td>{t.dead}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** One bar split by status (SVG), and the same counts as a table that links to each filtered list. */
function StatusBar(props: { statuses: Data["statuses"]; tokens: string }) {
  const id = useId();
  const entries = Object.entries(props.statuses) as [Status, number][];
  const total = entries.reduce((n, [, c]) => n + c, 0);
  const said = entries.map(([s, c]) => `${c} ${STATUS_LABEL[s]}`).join(", ");
  let x = 0;
  return (
    <figure class="chart">
      <svg viewBox="0 0 300 20" role="img" aria-labelledby={`${id}t`} aria-describedby={`${id}d`}>
        <title id={`${id}t`}>{`${total} tokens by status`}</title>
        <desc id={`${id}d`}>{said}</desc>
        {entries.map(([s, c]) => {
          const w = total === 0 ? 0 : (c / total) * 300;
          x += w;
          return w > 0 ? (
            <rect key={s} x={x - w} y={0} width={w} height={20} fill={COLOURS[s]}>
              <title>{`${STATUS_LABEL[s]}: ${c}`}</title>
            </rect>
          ) : null;
        })}
      </svg>
      <table>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Tokens</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([s, c]) => (
            <tr key={s}>
              <th scope="row">
                <span class="key">
                  <i style={{ background: COLOURS[s] }} /> <a href={`${props.tokens}?status=${s}`}>{STATUS_LABEL[s]}</a>
                </span>
              </th>
              <td>{c}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
