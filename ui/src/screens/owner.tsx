// The instance owner's tools (loaded on demand): the cron jobs with their last runs and "Run now",
// and the leak reports received (GitHub's secret scanning, admins' reports).
import { useState } from "preact/hooks";
import { api, type JobStatus } from "../client";
import { Empty, Err, Loading, LoadMore, Page, Time, toast, useLoad, usePaged } from "../ui";

const JOB_TEXT: Record<string, string> = {
  expiry: "Marks tokens past their expiry as expired.",
  notices: "Sends the expiry notices, 7 days and 1 day ahead.",
  purge: "Deletes tokens without an expiry that nobody used for 60 days.",
  grace: "Forgets the old secrets of regenerated tokens once their grace period has ended.",
  retention: "Erases tokens dead for 30 days; sweeps sessions, links and year-old events.",
};

const counts = (j: JobStatus) =>
  Object.entries(j.summary?.counts ?? {})
    .map(([k, n]) => `${k}: ${n}`)
    .join(" · ") || "nothing to do";

export function Jobs() {
  const list = useLoad(api.jobs, []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = async () => {
    setBusy(true);
    setError("");
    try {
      await api.runJobs();
      toast("The cron jobs ran.");
      list.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : "The jobs could not run.");
    }
    setBusy(false);
  };
  return (
    <Page
      title="Cron jobs"
      sub="They run every 15 minutes by themselves; Run now runs them all at once, as the trigger would."
      actions={
        <button type="button" class="primary" onClick={run} disabled={busy}>
          {busy ? "Running…" : "Run now"}
        </button>
      }
    >
      <Err text={error || list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Last run</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((j) => (
              <tr key={j.name}>
                <td>
                  <strong>{j.name}</strong>
                  <div class="muted small">{JOB_TEXT[j.name]}</div>
                </td>
                <td>
                  <Time iso={j.lastRunAt} never="Not yet" />
                  {j.running && <div class="muted small">Running now</div>}
                  {j.summary && (
                    <div class="muted small">
                      {j.summary.trigger === "manual" ? "Run now" : "Schedule"}, {j.summary.durationMs} ms
                    </div>
                  )}
                </td>
                <td>
                  {!j.summary
                    ? "—"
                    : j.summary.errors.length > 0
                      ? `Failed: ${j.summary.errors.join("; ")}`
                      : `${j.summary.done ? "Done" : "Stopped on its budget; the next run resumes"} (${counts(j)})`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

const text = (v: unknown) => (typeof v === "string" && v ? v : "—");

export function Leaks() {
  const list = usePaged((cursor) => api.audit("instance", { action: "token.leaked" }, cursor), []);
  return (
    <Page
      title="Leak reports"
      sub="Tokens reported leaked (by GitHub's secret scanning or an organization's admin), each revoked at once."
    >
      {list.error ? (
        <Err text={list.error} />
      ) : !list.data ? (
        <Loading />
      ) : list.items.length === 0 ? (
        <Empty title="No leaked tokens reported.">
          <p>Reports of strings that are no live token here revoke nothing and are not listed.</p>
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Token</th>
              <th>Organization</th>
              <th>Reported by</th>
              <th>Found at</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <Time iso={e.at} />
                </td>
                <td>
                  {e.target?.deleted || !e.org?.slug ? (
                    `${e.target?.label ?? "a token"}${e.target?.deleted ? " (deleted)" : ""}`
                  ) : (
                    <a href={`/orgs/${e.org.slug}/tokens/${e.target?.id}`}>{e.target?.label}</a>
                  )}
                </td>
                <td>{e.org?.slug ?? "(deleted)"}</td>
                <td>{e.detail.reporter === "github" ? "GitHub secret scanning" : (e.actor.label ?? "An admin")}</td>
                <td class="small">
                  <span class="mono">{text(e.detail.url)}</span>
                  <div class="muted">
                    {text(e.detail.source)} · {text(e.detail.type)}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={list} />
    </Page>
  );
}
