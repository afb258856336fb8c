import { useEffect, useState } from "preact/hooks";
import { type Page, type Project, type Render, json } from "../api";
import { type Session, StatusBadge, useTitle } from "../components";
import { seconds, usd, when } from "../format";
import { subscribe } from "../live";
import { StorageMeter } from "./library";
import { Invitations, RoleBadge } from "./share";

const SORTS = {
  "-updated_at": "Recently changed",
  "-created_at": "Newest first",
  name: "Name A–Z",
  "-name": "Name Z–A",
} as const;

export function Dashboard({ session }: { session: Session }) {
  useTitle("Projects");
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<keyof typeof SORTS>("-updated_at");
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [latest, setLatest] = useState<Record<string, Render>>({});
  // Cards wait for the renders: one shown before them would say "Draft" for a rendered project.
  const [rendersLoaded, setRendersLoaded] = useState(false);
  const [error, setError] = useState("");
  const [joined, setJoined] = useState(0);

  const loadRenders = async () => {
    const page = await json<Page<Render>>("/renders?limit=100");
    const byProject: Record<string, Render> = {};
    for (const render of page.items) {
      if (render.project_id && !byProject[render.project_id]) byProject[render.project_id] = render;
    }
    setLatest((shown) => ({ ...shown, ...byProject }));
  };

  // Renders of projects shared with me are their owners': ask per project.
  useEffect(() => {
    for (const project of projects ?? []) {
      if (!project.shared) continue;
      json<Page<Render>>(`/renders?project_id=${project.id}&limit=1`)
        .then((page) => page.items[0] && setLatest((shown) => ({ ...shown, [project.id]: page.items[0] })))
        .catch(() => undefined);
    }
  }, [projects]);

  useEffect(() => {
    const params = new URLSearchParams({ limit: "100", sort });
    if (query.trim()) params.set("q", query.trim());
    const timer = window.setTimeout(() => {
      json<Page<Project>>(`/projects?${params}`)
        .then((page) => setProjects(page.items))
        .catch((problem) => setError(problem.detail ?? "Cannot load your projects."));
    }, query ? 200 : 0);
    return () => window.clearTimeout(timer);
  }, [query, sort, joined]);

  useEffect(() => {
    loadRenders().catch(() => undefined).finally(() => setRendersLoaded(true));
    return subscribe((event) => {
      if (event.type === "access_revoked") setJoined((n) => n + 1); // its card goes
      if (["started", "succeeded", "failed", "canceled"].includes(event.type)) {
        loadRenders().catch(() => undefined);
        void session.reloadMe().catch(() => undefined);
      }
    });
  }, []);

  const { me } = session;
  const monthly = me.limits.monthly_minutes;
  const used = me.usage.minutes_this_month;
  return (
    <div class="dashboard">
      <div class="page-head">
        <h1>Your projects</h1>
        <a class="button primary" href="/new">New project</a>
      </div>
      <section class="plan card" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan: <span class="plan-name">{me.plan}</span></h2>
        <dl class="stats">
          <div><dt>This month</dt><dd>{used.toFixed(1)}{monthly != null ? ` of ${monthly} min` : " min"}</dd></div>
          <div><dt>Cost this month</dt><dd>{usd(me.usage.cost_usd_this_month ?? 0)}</dd></div>
          <div><dt>Longest video</dt><dd>{seconds(me.limits.max_duration_s)}</dd></div>
          <div><dt>Best quality</dt><dd>{me.limits.max_resolution}</dd></div>
          <div><dt>Renders at once</dt><dd>{me.limits.concurrent_renders}</dd></div>
        </dl>
        {monthly != null && (
          <div class="meter" role="progressbar" aria-label="Minutes used this month" aria-valuemin={0} aria-valuemax={monthly} aria-valuenow={used}>
            <span style={{ width: `${Math.min(100, (100 * used) / Math.max(monthly, 0.001))}%` }} />
          </div>
        )}
        <StorageMeter session={session} />
      </section>
      <Invitations onAccepted={() => setJoined((n) => n + 1)} />
      <div class="toolbar" role="search">
        <label class="inline-field">
          <span>Search</span>
          <input type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} placeholder="Project name" />
        </label>
        <label class="inline-field">
          <span>Sort</span>
          <select value={sort} onChange={(e) => setSort(e.currentTarget.value as keyof typeof SORTS)}>
            {Object.entries(SORTS).map(([value, label]) => <option value={value}>{label}</option>)}
          </select>
        </label>
      </div>
      {error && <div class="banner bad" role="alert">{error}</div>}
      {projects === null || !rendersLoaded ? (
        <p class="muted" aria-busy="true">Loading…</p>
      ) : projects.length === 0 ? (
        query ? <p class="empty">No project matches “{query}”.</p> : (
          <div class="empty card">
            <h2>Make your first video</h2>
            <p>Write what the video should say, pick a voice and a shape, and reelforge narrates it over matching visuals with captions and music. Your first render takes about a minute.</p>
            <a class="button primary" href="/new">New project</a>
          </div>
        )
      ) : (
        <ul class="cards" aria-label="Projects">
          {projects.map((project) => <ProjectCard key={project.id} project={project} render={latest[project.id]} />)}
        </ul>
      )}
    </div>
  );
}

function ProjectCard({ project, render }: { project: Project; render?: Render }) {
  const status = render?.status ?? "draft";
  const ratio = project.settings.aspect.replace(":", " / ");
  return (
    <li class="project card">
      <a class="thumb" href={render ? `/renders/${render.id}` : `/projects/${project.id}`} style={{ aspectRatio: ratio }} tabIndex={-1} aria-hidden="true">
        {render?.links ? <img src={render.links.thumbnail} alt="" loading="lazy" /> : <span class="thumb-empty" />}
      </a>
      <div class="project-body">
        <h2 class="project-title"><a href={`/projects/${project.id}`}>{project.name}</a></h2>
        <p class="meta">
          <StatusBadge status={status} />
          {project.shared && <RoleBadge role={project.role} />}
          <span>{render ? `Rendered ${when(render.finished_at ?? render.created_at)}` : "Not rendered yet"}</span>
          {render?.duration_s != null && <span>{seconds(render.duration_s)}</span>}
        </p>
        {render && <a class="small-link" href={`/renders/${render.id}`}>Latest render</a>}
      </div>
    </li>
  );
}
