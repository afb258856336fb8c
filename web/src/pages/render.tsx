import { useEffect, useRef, useState } from "preact/hooks";
import { Problem, type Project, type Rating, type Render, json } from "../api";
import { ErrorBanner, NotFoundPage, StatusBadge, useTitle } from "../components";
import { STAGES, STAGE_LABEL, plainError, seconds, usd, when } from "../format";
import { onConnection, subscribe } from "../live";
import { navigate } from "../router";

export function RenderView({ id }: { id: string }) {
  const [render, setRender] = useState<Render | null>(null);
  const [project, setProject] = useState<Project | null>(null);
  const [missing, setMissing] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [seen, setSeen] = useState<string[]>([]);
  const [connected, setConnected] = useState(true);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useTitle(project ? `Render of ${project.name}` : "Render");

  const load = async () => {
    try {
      const next = await json<Render>(`/renders/${id}`);
      setRender(next);
      if (next.stage) setSeen((all) => (all.includes(next.stage!) ? all : [...all, next.stage!]));
      return next;
    } catch (error) {
      if (error instanceof Problem && error.status === 404) setMissing(true);
      else if (error instanceof Problem) setProblem(error);
      return null;
    }
  };

  useEffect(() => {
    load().then((first) => {
      if (first?.project_id) json<Project>(`/projects/${first.project_id}`).then(setProject).catch(() => undefined);
    });
    const offEvents = subscribe((event) => {
      if (event.render_id === id) {
        const stage = typeof event.data.stage === "string" ? event.data.stage : null;
        if (stage) setSeen((all) => (all.includes(stage) ? all : [...all, stage]));
        void load();
      } else if (event.type === "started" || event.type === "succeeded" || event.type === "failed" || event.type === "canceled") {
        void load(); // another render moved: our queue position may have too
      }
    });
    const offConnection = onConnection(setConnected);
    return () => {
      offEvents();
      offConnection();
    };
  }, [id]);

  if (missing) return <NotFoundPage />;
  if (!render) return <p class="muted" aria-busy="true">Loading…</p>;

  const act = async (action: "cancel" | "retry") => {
    setBusy(true);
    setProblem(null);
    try {
      const next = await json<Render>(`/renders/${id}/${action}`, { method: "POST" });
      if (action === "retry") navigate(`/renders/${next.id}`);
      else setRender(next);
    } catch (error) {
      if (error instanceof Problem) setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  const active = render.status === "queued" || render.status === "running";
  const canAct = project?.role !== "viewer"; // a viewer watches: cancel and retry are edits
  const failedStage = render.error?.stage ?? null;
  return (
    <div class="render-view">
      <div class="page-head">
        <div>
          <p class="crumbs"><a href="/">Projects</a>{project && <> / <a href={`/projects/${project.id}`}>{project.name}</a></>}</p>
          <h1 ref={heading}>{project ? project.name : "Render"}</h1>
        </div>
        <StatusBadge status={render.status} />
      </div>
      <ErrorBanner problem={problem} />

      {active && (
        <section class="card progress-card" aria-labelledby="progress-title">
          <h2 id="progress-title">{render.status === "queued" ? "Waiting to start" : STAGE_LABEL[render.stage ?? ""] ?? "Rendering"}</h2>
          <p class="progress-line">
            {render.status === "queued"
              ? render.queue_position != null ? `Position in queue: ${render.queue_position}` : "Queued"
              : <>{Math.round(render.progress)}% · {render.eta_s != null ? `about ${seconds(render.eta_s)} left` : "estimating time left…"}</>}
          </p>
          <div class="meter big" role="progressbar" aria-label="Render progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(render.progress)}>
            <span style={{ width: `${render.progress}%` }} />
          </div>
          <StageList render={render} seen={seen} />
          <div class="progress-foot">
            {canAct && <button type="button" class="button danger" disabled={busy} onClick={() => act("cancel")}>Cancel render</button>}
            <span class={`live-state${connected ? "" : " off"}`} role="status">{connected ? "Live" : "Reconnecting…"}</span>
          </div>
        </section>
      )}

      {render.status === "succeeded" && render.links && (
        <section class="result" aria-label="Your video">
          <div>
            <div class={`player aspect-${(project?.settings.aspect ?? "16:9").replace(":", "-")}`}>
              <video controls preload="metadata" src={render.links.video} poster={render.links.thumbnail}>
                <track kind="captions" src={render.links.vtt} srclang="en" label="Captions" default />
              </video>
            </div>
            <RateVideo id={id} />
          </div>
          <div class="card side">
            <dl class="stats one">
              <div><dt>Length</dt><dd>{seconds(render.duration_s)}</dd></div>
              <div><dt>Finished</dt><dd>{when(render.finished_at)}</dd></div>
              <div><dt>Provider cost</dt><dd>{usd(render.cost_usd)}</dd></div>
              {render.scenes_total != null && (
                <div><dt>Scenes reused</dt><dd data-testid="reused">{render.scenes_reused ?? 0} of {render.scenes_total}</dd></div>
              )}
              {render.checks.length > 0 && (
                <div>
                  <dt>Checks</dt>
                  <dd data-testid="checks" title={render.checks.map((c) => `${c.name}: ${c.detail}`).join("\n")}>
                    {render.checks.every((c) => c.ok) ? `All ${render.checks.length} passed` : "Some failed"}
                  </dd>
                </div>
              )}
            </dl>
            <div class="downloads">
              <a class="button primary" href={`${render.links.video}&download=true`} download>Download MP4</a>
              <a class="button" href={`${render.links.srt}&download=true`} download>Download SRT</a>
              <a class="button" href={`${render.links.vtt}&download=true`} download>Download VTT</a>
              <a class="button" href={`${render.links.thumbnail}&download=true`} download>Download thumbnail</a>
            </div>
            {project && <a class="button ghost" href={`/projects/${project.id}`}>{canAct ? "Edit storyboard" : "Open storyboard"}</a>}
            <details class="steps">
              <summary>Render steps</summary>
              <StageList render={render} seen={seen} />
            </details>
          </div>
        </section>
      )}

      {(render.status === "failed" || render.status === "canceled") && (
        <section class="card failure" aria-labelledby="failure-title">
          <h2 id="failure-title">{render.status === "failed" ? "This render failed" : "This render was canceled"}</h2>
          {render.error && <p>{plainError(render.error.error_class, render.error.message)}</p>}
          {failedStage && <p>It stopped while <strong>{(STAGE_LABEL[failedStage] ?? failedStage).toLowerCase()}</strong>. A retry reuses every finished stage and starts again there.</p>}
          {canAct && <button type="button" class="button primary" disabled={busy} onClick={() => act("retry")}>Retry</button>}
        </section>
      )}
    </div>
  );
}

/** 1–5 stars and an optional comment under the player; sending again changes the rating. */
function RateVideo({ id }: { id: string }) {
  const [stars, setStars] = useState(0);
  const [comment, setComment] = useState("");
  const [saved, setSaved] = useState<Rating | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    json<Rating>(`/renders/${id}/rating`)
      .then((rating) => {
        setSaved(rating);
        setStars(rating.stars);
        setComment(rating.comment);
      })
      .catch(() => undefined); // 404: not rated yet
  }, [id]);

  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      setSaved(await json<Rating>(`/renders/${id}/rating`, { method: "PUT", body: { stars, comment } }));
    } catch (error) {
      if (error instanceof Problem) setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card rating" onSubmit={save} aria-labelledby="rating-title">
      <h2 id="rating-title">How good is this video?</h2>
      <ErrorBanner problem={problem} />
      <div class="stars" role="radiogroup" aria-label="Stars">
        {[1, 2, 3, 4, 5].map((n) => (
          <label class={n <= stars ? "on" : ""} title={`${n} of 5`}>
            <input type="radio" name="stars" value={n} checked={stars === n} onChange={() => setStars(n)} aria-label={`${n} of 5 stars`} />
            <span aria-hidden="true">{n <= stars ? "★" : "☆"}</span>
          </label>
        ))}
      </div>
      <label class="stack">
        Comment (optional)
        <textarea name="comment" rows={2} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <p>
        <button type="submit" class="button primary" disabled={busy || stars === 0}>{saved ? "Update rating" : "Rate"}</button>{" "}
        <span role="status">{saved ? `Thanks: you rated it ${saved.stars} of 5.` : ""}</span>
      </p>
    </form>
  );
}

/** The stages in order: done, in progress, to do; `data-seen` marks those reported live. */
function StageList({ render, seen }: { render: Render; seen: string[] }) {
  const finished = render.status === "succeeded";
  const currentIndex = finished ? STAGES.length : render.stage ? STAGES.indexOf(render.stage as (typeof STAGES)[number]) : -1;
  return (
    <ol class="stages" aria-label="Stages">
      {STAGES.map((stage, index) => {
        const state = render.status === "queued" ? "todo" : index < currentIndex ? "done" : index === currentIndex ? "now" : "todo";
        return (
          <li class={`stage ${state}`} data-stage={stage} data-seen={seen.includes(stage) ? "true" : undefined} aria-current={state === "now" ? "step" : undefined}>
            <span class="dot" aria-hidden="true" />{STAGE_LABEL[stage]}
            <span class="visually-hidden">{state === "done" ? " (done)" : state === "now" ? " (in progress)" : ""}</span>
          </li>
        );
      })}
    </ol>
  );
}
