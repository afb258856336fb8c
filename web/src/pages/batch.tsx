import { useEffect, useState } from "preact/hooks";
import { type Batch, type BatchCheck, type Page, Problem, type Template, blobUrl, json } from "../api";
import { ErrorBanner, type Session, StatusBadge, useTitle } from "../components";
import { subscribe } from "../live";
import { navigate } from "../router";

/** Upload a CSV, see every row checked (a dry run: nothing queued), then queue it. */
export function Batches({ session }: { session: Session }) {
  useTitle("Batches");
  const [batches, setBatches] = useState<Batch[] | null>(null);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [template, setTemplate] = useState("");
  const [csv, setCsv] = useState<{ name: string; text: string } | null>(null);
  const [check, setCheck] = useState<BatchCheck | null>(null);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    json<Page<Batch>>("/batches?limit=50").then((page) => setBatches(page.items)).catch(() => setProblem("Cannot list your batches."));
    json<Template[]>("/templates").then(setTemplates).catch(() => undefined);
  }, []);

  const query = (extra: Record<string, string>) => {
    const params = new URLSearchParams(extra);
    if (template) params.set("template", template);
    if (csv) params.set("name", csv.name.replace(/\.csv$/i, ""));
    return `/batches?${params}`;
  };

  const preview = async (file: { name: string; text: string }, picked = template) => {
    setCsv(file);
    setCheck(null);
    setProblem(null);
    try {
      const params = new URLSearchParams({ dry_run: "true" });
      if (picked) params.set("template", picked);
      setCheck(await json<BatchCheck>(`/batches?${params}`, { method: "POST", csv: file.text }));
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot check this file.");
    }
  };

  const submit = async () => {
    if (!csv || !check) return;
    setBusy(true);
    try {
      const skip: Record<string, string> = check.invalid.length > 0 ? { skip_invalid: "true" } : {};
      const batch = await json<Batch>(query(skip), { method: "POST", csv: csv.text });
      await session.reloadMe();
      navigate(`/batches/${batch.id}`);
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot queue this batch.");
    } finally {
      setBusy(false);
    }
  };

  const limit = session.me.limits.max_batch_rows;
  return (
    <div class="batches">
      <div class="page-head"><h1>Batches</h1></div>
      <section class="card" aria-label="New batch">
        <h2>New batch</h2>
        <p class="muted">A CSV with a header row: <code>prompt</code> (or <code>script</code>), and optionally <code>title</code>, <code>template</code>, <code>aspect</code>, <code>resolution</code>, <code>duration</code>, <code>voice</code>, <code>music</code>, <code>watermark</code>. Up to {limit} rows on your plan. Every row is checked before anything is queued.</p>
        <label class="inline-field"><span>Template for every row</span>
          <select value={template} onChange={(e) => { const picked = e.currentTarget.value; setTemplate(picked); if (csv) void preview(csv, picked); }}>
            <option value="">None</option>
            {templates.map((t) => <option value={t.id}>{t.name}</option>)}
          </select>
        </label>
        <label class="inline-field"><span>CSV file</span>
          <input type="file" accept=".csv,text/csv" aria-label="Batch CSV" onChange={async (e) => { const file = e.currentTarget.files?.[0]; if (file) await preview({ name: file.name, text: await file.text() }); }} />
        </label>
        <ErrorBanner problem={problem} />
        {check && <CheckReport check={check} busy={busy} onSubmit={submit} />}
      </section>
      <h2>Your batches</h2>
      {batches === null ? <p class="muted" aria-busy="true">Loading…</p> : batches.length === 0 ? <p class="empty">No batch yet.</p> : (
        <ul class="batch-list" aria-label="Batches">
          {batches.map((b) => (
            <li key={b.id}><a href={`/batches/${b.id}`}>{b.name || "Batch"}</a> <span class="muted">{b.done} of {b.total} done · {new Date(b.created_at).toLocaleString()}</span></li>
          ))}
        </ul>
      )}
    </div>
  );
}

function CheckReport({ check, busy, onSubmit }: { check: BatchCheck; busy: boolean; onSubmit: () => void }) {
  const bad = check.invalid.length;
  const good = check.valid.length;
  return (
    <div class="batch-check" aria-label="Row check">
      <p role="status">{good} valid {good === 1 ? "row" : "rows"}{bad > 0 ? `, ${bad} bad` : ""}.</p>
      {check.plan_problem && <p class="banner warn">{check.plan_problem}</p>}
      {bad > 0 && (
        <div class="table-scroll"><table class="rows bad-rows" aria-label="Bad rows">
          <thead><tr><th scope="col">Line</th><th scope="col">Why</th></tr></thead>
          <tbody>{check.invalid.map((row) => <tr data-line={row.line}><td>{row.line}</td><td>{row.reason}</td></tr>)}</tbody>
        </table></div>
      )}
      {good > 0 && (
        <div class="table-scroll"><table class="rows" aria-label="Valid rows">
          <thead><tr><th scope="col">Line</th><th scope="col">Title</th><th scope="col">Text</th><th scope="col">Length</th></tr></thead>
          <tbody>{check.valid.map((row) => <tr data-line={row.line}><td>{row.line}</td><td>{row.title}</td><td>{row.text}</td><td>{Math.round(row.duration_s)} s</td></tr>)}</tbody>
        </table></div>
      )}
      {good > 0 && (
        <button type="button" class="button primary" disabled={busy} onClick={onSubmit}>
          {bad > 0 ? `Queue the ${good} valid rows (skip ${bad})` : `Queue ${good} ${good === 1 ? "video" : "videos"}`}
        </button>
      )}
    </div>
  );
}

/** One batch: counts by status, each row, live as rows finish; cancel, retry, download. */
export function BatchView({ id }: { id: string }) {
  const [batch, setBatch] = useState<Batch | null>(null);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  useTitle(batch?.name || "Batch");

  const load = () => json<Batch>(`/batches/${id}`).then(setBatch).catch((error) => setProblem(error instanceof Problem ? error : "Cannot load this batch."));
  useEffect(() => {
    void load();
    return subscribe((event) => {
      if (event.type === "batch_progress" && event.data.batch_id === id) void load();
    });
  }, [id]);

  const act = async (what: "cancel" | "retry") => {
    try {
      setBatch(await json<Batch>(`/batches/${id}/${what}`, { method: "POST" }));
    } catch (error) {
      setProblem(error instanceof Problem ? error : `Cannot ${what} this batch.`);
    }
  };
  const save = async (path: string, name: string) => {
    const link = document.createElement("a");
    link.href = await blobUrl(path);
    link.download = name;
    link.click();
  };

  if (!batch) return <div><ErrorBanner problem={problem} />{!problem && <p class="muted" aria-busy="true">Loading…</p>}</div>;
  const live = batch.counts.queued + batch.counts.running;
  const failed = batch.counts.failed + batch.counts.canceled;
  return (
    <div class="batch">
      <div class="page-head"><h1>{batch.name || "Batch"}</h1></div>
      <ErrorBanner problem={problem} />
      <section class="card" aria-label="Progress">
        <p role="status" class="batch-summary">{batch.done} of {batch.total} done: {batch.counts.succeeded} ready, {batch.counts.running} rendering, {batch.counts.queued} queued, {batch.counts.failed} failed, {batch.counts.canceled} canceled</p>
        <div class="meter" role="progressbar" aria-label="Batch progress" aria-valuemin={0} aria-valuemax={batch.total} aria-valuenow={batch.done}>
          <span style={{ width: `${(100 * batch.done) / Math.max(batch.total, 1)}%` }} />
        </div>
        <div class="actions">
          {live > 0 && <button type="button" class="button danger small" onClick={() => act("cancel")}>Cancel the rest</button>}
          {failed > 0 && <button type="button" class="button small" onClick={() => act("retry")}>Retry failed rows</button>}
          {batch.counts.succeeded > 0 && <button type="button" class="button primary small" onClick={() => save(batch.links.download, `batch-${id.slice(0, 8)}.zip`)}>Download ZIP</button>}
          <button type="button" class="button ghost small" onClick={() => save(batch.links.results, `batch-${id.slice(0, 8)}.csv`)}>Results CSV</button>
        </div>
      </section>
      <div class="table-scroll"><table class="rows" aria-label="Rows">
        <thead><tr><th scope="col">Line</th><th scope="col">Title</th><th scope="col">Status</th><th scope="col">Render</th></tr></thead>
        <tbody>
          {batch.rows.map((row) => (
            <tr data-line={row.line}>
              <td>{row.line}</td><td>{row.title}</td><td><StatusBadge status={row.status} />{row.error && <span class="muted"> {row.error}</span>}</td>
              <td>{row.render_id && <a href={`/renders/${row.render_id}`}>Open</a>}</td>
            </tr>
          ))}
          {batch.skipped.map((row) => <tr data-line={row.line}><td>{row.line}</td><td /><td>Skipped</td><td>{row.reason}</td></tr>)}
        </tbody>
      </table></div>
    </div>
  );
}
