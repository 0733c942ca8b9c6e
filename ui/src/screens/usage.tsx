// A token's usage at a glance (loaded on demand): verifications per day over 30 days as a hand-drawn SVG
// chart with a table beside it for screen readers, the last addresses, and the attempts made since the
// token stopped verifying (what still holds a dead secret).
import { useId } from "preact/hooks";
import { api, type Scope, type Token, type TokenUsage } from "../client";
import { absolute } from "../format";
import { Err, Loading, Time, useLoad } from "../ui";

type Day = TokenUsage["days"][number];
type Part = "valid" | "denied" | "dead";

/** The three results, bottom to top, with their words and colours. */
const PARTS: [Part, string, string][] = [
  ["valid", "Valid", "var(--ok)"],
  ["denied", "Denied (permission or project)", "var(--warn)"],
  ["dead", "While dead (revoked, expired, disabled)", "var(--danger)"],
];

const times = (n: number) => `${n} time${n === 1 ? "" : "s"}`;
const dayLabel = (day: string) =>
  new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const said = (d: Day) => `${dayLabel(d.day)}: ${d.valid} valid, ${d.denied} denied, ${d.dead} while dead`;

export function Usage(props: { scope: Scope; token: Token }) {
  const t = props.token;
  const usage = useLoad(() => api.tokenUsage(props.scope, t.id), [t.id, t.status]);
  const dead = t.deadAttempts;
  const how = dead?.since === t.revokedAt ? "revoked" : dead?.since === t.disabledAt ? "disabled" : "expired";
  return (
    <section class="usage" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      {dead && (
        <p class="notice">
          Used {times(dead.count)} since it was {how} ({absolute(dead.since)}), last <Time iso={dead.lastAt} />
          {dead.lastIp && ` from ${dead.lastIp}`}. Whatever sends it still holds the old secret.
        </p>
      )}
      {usage.error ? <Err text={usage.error} /> : usage.data ? <Report usage={usage.data} /> : <Loading />}
    </section>
  );
}

function Report(props: { usage: TokenUsage }) {
  const { days, totals, addresses } = props.usage;
  return (
    <>
      <Chart days={days} totals={totals} />
      <h3>Last addresses</h3>
      {addresses.length === 0 ? (
        <p class="muted">No use recorded yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {addresses.map((a) => (
              <tr key={a.ip}>
                <td>
                  <code>{a.ip}</code>
                </td>
                <td>
                  <Time iso={a.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

const BAR = 12;
const H = 100;
const LEFT = 32;

/** Stacked bars, one a day; each names its day and counts. The table below says the same in rows. */
function Chart(props: { days: Day[]; totals: Record<Part, number> }) {
  const { days, totals } = props;
  const id = useId();
  const max = Math.max(1, ...days.map((d) => d.valid + d.denied + d.dead));
  const busiest = days.reduce((a, b) => (b.valid + b.denied + b.dead > a.valid + a.denied + a.dead ? b : a));
  const width = LEFT + days.length * BAR;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${H + 18}`} aria-labelledby={`${id}t`} aria-describedby={`${id}d`}>
        <title id={`${id}t`}>Verifications per day, last {days.length} days</title>
        <desc id={`${id}d`}>
          {`In all: ${totals.valid} valid, ${totals.denied} denied, ${totals.dead} while dead.`}
          {busiest.valid + busiest.denied + busiest.dead > 0 ? ` Busiest day: ${said(busiest)}.` : ""}
        </desc>
        <line x1={LEFT} x2={width} y1={H} y2={H} class="axis" />
        <text x={LEFT - 4} y={10} text-anchor="end">
          {max}
        </text>
        <text x={LEFT - 4} y={H} text-anchor="end">
          0
        </text>
        <text x={LEFT} y={H + 14}>
          {dayLabel(days[0]!.day)}
        </text>
        <text x={width} y={H + 14} text-anchor="end">
          {dayLabel(days.at(-1)!.day)}
        </text>
        {days.map((d, i) => {
          if (d.valid + d.denied + d.dead === 0) return null;
          let y = H;
          return (
            // biome-ignore lint/a11y/noInteractiveElementToNoninteractiveRole: a bar is an image named by its day and counts (WAI-ARIA graphics), not a control.
            <g key={d.day} role="img" aria-label={said(d)}>
              <title>{said(d)}</title>
              {PARTS.map(([part, , colour]) => {
                const h = (d[part] / max) * (H - 6);
                y -= h;
                return h > 0 ? <rect x={LEFT + i * BAR + 1} y={y} width={BAR - 2} height={h} fill={colour} /> : null;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {PARTS.map(([part, label, colour]) => (
          <span class="key" key={part}>
            <i style={{ background: colour }} /> {label}: {totals[part]}
          </span>
        ))}
      </figcaption>
      <details>
        <summary>The chart as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {PARTS.map(([part, label]) => (
                <th scope="col" key={part}>
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.day}>
                <th scope="row">{dayLabel(d.day)}</th>
                <td>{d.valid}</td>
                <td>{d.denied}</td>
                <td>{d.dead}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
