import { useEffect, useRef, useState } from "preact/hooks";
import { type Asset, type Estimate, type Me, type Page, Problem, type Project, type Render, type Scene, type Settings, type Storyboard, type Template, type Watermark, call, fieldErrors, json } from "../api";
import { ErrorBanner, Field, NotFoundPage, describedBy, useTitle } from "../components";
import { navigate } from "../router";
import { SettingsForm } from "../settings-form";
import { ActivityPanel, ShareDialog } from "./share";

const NEW_SCENE: Scene = {
  narration: "A new scene.",
  headline: "",
  keywords: [],
  visual: { kind: "generated", prompt: "", path: null, query: "", color: null },
  duration_s: "auto",
  transition: "fade",
};

let nextKey = 1;
interface Card {
  key: number;
  scene: Scene;
}

/** Moves item `from` to index `to`: the one reorder used by drag, keyboard and buttons. */
export function moveItem<T>(items: T[], from: number, to: number): T[] {
  if (to < 0 || to >= items.length || from === to) return items;
  const next = items.slice();
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item);
  return next;
}

export function Editor({ id }: { id: string }) {
  const [project, setProject] = useState<Project | null>(null);
  const [board, setBoard] = useState<Storyboard | null>(null);
  const [cards, setCards] = useState<Card[]>([]);
  const [etag, setEtag] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [missing, setMissing] = useState(false);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const [stale, setStale] = useState(false);
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  const [grabbed, setGrabbed] = useState<{ index: number; origin: number } | null>(null);
  const [dragging, setDragging] = useState<number | null>(null);
  const [dropAt, setDropAt] = useState<number | null>(null);
  const [announce, setAnnounce] = useState("");
  const [stock, setStock] = useState(false);
  const [maxRes, setMaxRes] = useState("1080p");
  const [maxDur, setMaxDur] = useState(600);
  const [library, setLibrary] = useState<Asset[]>([]);
  const [sharing, setSharing] = useState(false);
  const [templating, setTemplating] = useState(false);
  useTitle(project ? `Edit ${project.name}` : "Storyboard");

  const load = async () => {
    setStale(false);
    setProblem(null);
    try {
      const p = await json<Project>(`/projects/${id}`);
      setProject(p);
      let response: Response;
      try {
        response = await call(`/projects/${id}/storyboard`);
      } catch (error) {
        if (!(error instanceof Problem && error.status === 404)) throw error;
        if (p.role === "viewer") {
          // Drafting one is an edit: a viewer sees that there is none yet.
          setBoard({ version: 1, title: p.name, settings: p.settings, scenes: [] });
          setCards([]);
          return;
        }
        response = await call(`/projects/${id}/storyboard/draft`, { method: "POST" });
      }
      const sb = (await response.json()) as Storyboard;
      setEtag(response.headers.get("ETag"));
      setBoard(sb);
      setCards(sb.scenes.map((scene) => ({ key: nextKey++, scene })));
      setDirty(false);
    } catch (error) {
      if (error instanceof Problem && error.status === 404) setMissing(true);
      else setProblem(error instanceof Problem ? error : "Cannot load the storyboard.");
    }
  };

  useEffect(() => {
    void load();
    json<Me>("/users/me").then((me) => {
      setMaxRes(me.limits.max_resolution);
      setMaxDur(me.limits.max_duration_s);
    }).catch(() => undefined);
    json<Estimate>("/estimate", { method: "POST", body: { prompt: "" } }).then((e) => setStock(e.stock_available)).catch(() => undefined);
    json<Page<Asset>>("/assets?limit=100").then((page) => setLibrary(page.items)).catch(() => undefined);
  }, [id]);

  if (missing) return <NotFoundPage />;
  if (!board || !project) return problem ? <ErrorBanner problem={problem} /> : <p class="muted" aria-busy="true">Loading…</p>;

  const readOnly = project.role === "viewer";
  const change = (next: Card[]) => {
    setCards(next);
    setDirty(true);
    setSaved("");
  };
  const updateScene = (index: number, patch: Partial<Scene>) =>
    change(cards.map((card, i) => (i === index ? { ...card, scene: { ...card.scene, ...patch } } : card)));
  const moveScene = (from: number, to: number, how = "") => {
    if (to < 0 || to >= cards.length || to === from) return;
    change(moveItem(cards, from, to));
    setAnnounce(`Scene moved${how} to position ${to + 1} of ${cards.length}.`);
  };

  const save = async (overwrite = false): Promise<boolean> => {
    setBusy(true);
    setProblem(null);
    try {
      const body: Storyboard = { ...board, scenes: cards.map((card) => card.scene) };
      const headers: Record<string, string> = {};
      if (etag && !overwrite) headers["If-Match"] = etag;
      const response = await call(`/projects/${id}/storyboard`, { method: "PUT", body, headers });
      setEtag(response.headers.get("ETag"));
      setBoard((await response.json()) as Storyboard);
      setDirty(false);
      setStale(false);
      setSaved("All changes saved.");
      return true;
    } catch (error) {
      if (error instanceof Problem && error.status === 412) setStale(true);
      else setProblem(error instanceof Problem ? error : "Cannot save.");
      return false;
    } finally {
      setBusy(false);
    }
  };

  const rerender = async () => {
    if (dirty && !(await save())) return;
    setBusy(true);
    try {
      const render = await json<Render>(`/projects/${id}/renders`, { method: "POST" });
      navigate(`/renders/${render.id}`);
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot start the render.");
    } finally {
      setBusy(false);
    }
  };

  /** Mouse and touch: press the handle, move over another scene, let go. */
  const startDrag = (event: PointerEvent, index: number) => {
    if (event.button !== 0) return;
    const handle = event.currentTarget as HTMLElement;
    handle.setPointerCapture(event.pointerId);
    setDragging(index);
    const over = (y: number): number => {
      const items = Array.from(document.querySelectorAll<HTMLElement>("li.scene"));
      const found = items.findIndex((item) => y <= item.getBoundingClientRect().bottom);
      return found === -1 ? items.length - 1 : found;
    };
    const move = (e: PointerEvent) => setDropAt(over(e.clientY));
    const end = (e: PointerEvent) => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
      setDragging(null);
      setDropAt(null);
      if (e.type === "pointerup") moveScene(index, over(e.clientY), " by drag");
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  };

  const handleKey = (event: KeyboardEvent, index: number) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (grabbed) {
        setGrabbed(null);
        setAnnounce(`Scene dropped at position ${index + 1} of ${cards.length}.`);
      } else {
        setGrabbed({ index, origin: index });
        setAnnounce(`Scene ${index + 1} grabbed. Use the arrow keys to move it, Space to drop, Escape to cancel.`);
      }
    } else if (grabbed && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      const to = index + (event.key === "ArrowUp" ? -1 : 1);
      if (to < 0 || to >= cards.length) return;
      moveScene(index, to);
      setGrabbed({ index: to, origin: grabbed.origin });
      requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-handle="${to}"]`)?.focus());
    } else if (grabbed && event.key === "Escape") {
      event.preventDefault();
      change(moveItem(cards, index, grabbed.origin));
      setGrabbed(null);
      setAnnounce(`Reorder canceled. Scene back at position ${grabbed.origin + 1}.`);
      requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-handle="${grabbed.origin}"]`)?.focus());
    }
  };

  return (
    <div class="editor">
      <div class="page-head">
        <div>
          <p class="crumbs"><a href="/">Projects</a> / {project.name}</p>
          <h1>Storyboard</h1>
        </div>
        <div class="actions">
          {project.role === "owner" && <button type="button" class="button" onClick={() => setSharing(true)}>Share</button>}
          {!readOnly && <>
            <span class="muted" role="status">{dirty ? "Unsaved changes" : saved}</span>
            <button type="button" class="button" disabled={busy || !dirty} onClick={() => save()}>Save</button>
            <button type="button" class="button" disabled={busy} onClick={() => setTemplating(true)}>Save as template</button>
            <button type="button" class="button primary" disabled={busy} onClick={rerender}>Re-render</button>
          </>}
        </div>
      </div>
      {readOnly && <div class="banner info" role="status">Shared with you as a viewer: you can watch its renders and comment, not edit it.</div>}
      {sharing && <ShareDialog project={project} onClose={() => setSharing(false)} />}
      {templating && <SaveTemplateDialog project={project} dirty={dirty} save={save} onClose={() => setTemplating(false)} />}
      <ErrorBanner problem={problem} />
      {stale && (
        <div class="banner warn" role="alertdialog" aria-labelledby="stale-title" aria-describedby="stale-text">
          <strong id="stale-title">This storyboard changed elsewhere.</strong>
          <span id="stale-text"> Someone saved it after you opened it. Reload their version (your changes are lost), or overwrite it with yours.</span>
          <div class="actions">
            <button type="button" class="button" onClick={load}>Reload</button>
            <button type="button" class="button danger" onClick={() => save(true)}>Overwrite</button>
          </div>
        </div>
      )}
      <div class="visually-hidden" aria-live="assertive">{announce}</div>
      <fieldset class="plain" disabled={readOnly} aria-label={readOnly ? "Storyboard (read-only)" : "Storyboard"}>
      <div class="editor-grid">
        <section aria-labelledby="scenes-title">
          <h2 id="scenes-title">Scenes ({cards.length})</h2>
          {readOnly && cards.length === 0 && <p class="muted">No storyboard has been saved yet: renders narrate the prompt.</p>}
          <ol class="scenes">
            {cards.map((card, index) => {
              const s = card.scene;
              const n = index + 1;
              return (
                <li
                  key={card.key}
                  class={`scene card${grabbed?.index === index ? " grabbed" : ""}${dragging === index ? " dragging" : ""}${dropAt === index && dragging !== index ? " drop-target" : ""}`}
                >
                  <div class="scene-head">
                    <button
                      type="button"
                      class="handle"
                      data-handle={index}
                      aria-label={`Reorder scene ${n}`}
                      aria-pressed={grabbed?.index === index}
                      aria-describedby="reorder-help"
                      onKeyDown={(e) => handleKey(e, index)}
                      onBlur={() => {
                        // A move re-orders the DOM (a blur), then focuses the handle again:
                        // let go only when focus really left the handles.
                        requestAnimationFrame(() => {
                          if (!(document.activeElement as HTMLElement | null)?.dataset.handle) setGrabbed(null);
                        });
                      }}
                      onPointerDown={(e) => startDrag(e, index)}
                    >⠿</button>
                    <h3>Scene {n}</h3>
                    <div class="scene-tools">
                      <button type="button" class="button ghost small" aria-label={`Move scene ${n} up`} disabled={index === 0} onClick={() => moveScene(index, index - 1)}>↑</button>
                      <button type="button" class="button ghost small" aria-label={`Move scene ${n} down`} disabled={index === cards.length - 1} onClick={() => moveScene(index, index + 1)}>↓</button>
                      <button type="button" class="button ghost small" aria-label={`Duplicate scene ${n}`} onClick={() => change([...cards.slice(0, index + 1), { key: nextKey++, scene: { ...s } }, ...cards.slice(index + 1)])}>Duplicate</button>
                      <button type="button" class="button ghost small" aria-label={`Delete scene ${n}`} disabled={cards.length === 1} onClick={() => change(cards.filter((_, i) => i !== index))}>Delete</button>
                    </div>
                  </div>
                  <label class="stack"><span>Narration</span>
                    <textarea rows={3} value={s.narration} aria-label={`Narration of scene ${n}`} onInput={(e) => updateScene(index, { narration: e.currentTarget.value })} />
                  </label>
                  <div class="grid2">
                    <label class="stack"><span>Headline</span>
                      <input value={s.headline} aria-label={`Headline of scene ${n}`} onInput={(e) => updateScene(index, { headline: e.currentTarget.value })} />
                    </label>
                    <label class="stack"><span>Visual</span>
                      <select value={s.visual.kind} aria-label={`Visual of scene ${n}`} onChange={(e) => {
                        const kind = e.currentTarget.value as Scene["visual"]["kind"];
                        const first = library.find((a) => a.kind !== "audio");
                        const asset_id = kind === "file" ? s.visual.asset_id ?? first?.id ?? null : null;
                        updateScene(index, { visual: { ...s.visual, kind, asset_id, color: kind === "color" ? s.visual.color ?? "#204060" : null } });
                      }}>
                        <option value="generated">Generated</option>
                        <option value="color">Colour</option>
                        {stock && <option value="stock">Stock search</option>}
                        <option value="file">From my library</option>
                      </select>
                    </label>
                  </div>
                  {s.visual.kind === "color" && (
                    <label class="stack"><span>Colour</span>
                      <input type="color" value={s.visual.color ?? "#204060"} aria-label={`Colour of scene ${n}`} onInput={(e) => updateScene(index, { visual: { ...s.visual, color: e.currentTarget.value } })} />
                    </label>
                  )}
                  {s.visual.kind === "file" && (
                    <AssetPicker label={`Library visual of scene ${n}`} assets={library.filter((a) => a.kind !== "audio")} value={s.visual.asset_id ?? null}
                      onPick={(asset_id) => updateScene(index, { visual: { ...s.visual, asset_id } })} />
                  )}
                  {s.visual.kind === "stock" && (
                    <label class="stack"><span>Stock search</span>
                      <input value={s.visual.query} aria-label={`Stock search of scene ${n}`} onInput={(e) => updateScene(index, { visual: { ...s.visual, query: e.currentTarget.value } })} />
                    </label>
                  )}
                  <div class="grid2">
                    <label class="stack"><span>Duration (s, empty for auto)</span>
                      <input type="number" min={0.5} max={600} step={0.5} value={s.duration_s === "auto" ? "" : s.duration_s} aria-label={`Duration of scene ${n} in seconds`}
                        onInput={(e) => { const v = e.currentTarget.value; updateScene(index, { duration_s: v === "" ? "auto" : Number(v) }); }} />
                    </label>
                    <label class="stack"><span>Transition</span>
                      <select value={s.transition} aria-label={`Transition into scene ${n}`} onChange={(e) => updateScene(index, { transition: e.currentTarget.value as Scene["transition"] })}>
                        <option value="fade">Fade</option><option value="cut">Cut</option>
                      </select>
                    </label>
                  </div>
                </li>
              );
            })}
          </ol>
          <p id="reorder-help" class="hint">To reorder with the keyboard: focus a scene's handle, press Space, move with the arrow keys, press Space to drop or Escape to cancel.</p>
          <button type="button" class="button" onClick={() => change([...cards, { key: nextKey++, scene: { ...NEW_SCENE } }])}>Add scene</button>
        </section>
        <aside class="card" aria-labelledby="project-settings">
          <h2 id="project-settings">Project settings</h2>
          <SettingsForm settings={board.settings} maxResolution={maxRes} maxDuration={maxDur} onChange={(settings) => { setBoard({ ...board, settings }); setDirty(true); setSaved(""); }} />
          <LibrarySettings settings={board.settings} library={library} onChange={(settings) => { setBoard({ ...board, settings }); setDirty(true); setSaved(""); }} />
        </aside>
      </div>
      </fieldset>
      <ActivityPanel projectId={id} scenes={cards.length} />
    </div>
  );
}

/** A choice among my library's assets, with the chosen one's thumbnail; none if empty. */
function AssetPicker({ label, assets, value, onPick, none }: { label: string; assets: Asset[]; value: string | null; onPick: (id: string | null) => void; none?: string }) {
  const picked = assets.find((a) => a.id === value);
  if (!assets.length && !none) return <p class="hint">Your <a href="/library">library</a> has nothing to use here yet: upload it there first.</p>;
  return (
    <div class="picked stack">
      {picked?.links.thumbnail && <img src={picked.links.thumbnail} alt="" />}
      <select value={value ?? ""} aria-label={label} onChange={(e) => onPick(e.currentTarget.value || null)}>
        {none ? <option value="">{none}</option> : !picked && <option value="">Pick one</option>}
        {assets.map((a) => <option value={a.id}>{a.name} ({a.kind})</option>)}
      </select>
    </div>
  );
}

const CORNERS: Record<Watermark["position"], string> = {
  "top-left": "Top left", "top-right": "Top right", "bottom-left": "Bottom left", "bottom-right": "Bottom right",
};

/** Music and a logo watermark from my library. */
function LibrarySettings({ settings, library, onChange }: { settings: Settings; library: Asset[]; onChange: (settings: Settings) => void }) {
  const mark = settings.watermark ?? null;
  const setMark = (patch: Partial<Watermark>) => mark && onChange({ ...settings, watermark: { ...mark, ...patch } });
  return (
    <fieldset class="stack">
      <legend>From my library</legend>
      <span>Music</span>
      <AssetPicker label="Music from my library" none="Composed for the mood" assets={library.filter((a) => a.kind === "audio")} value={settings.music.asset_id ?? null}
        onPick={(asset_id) => onChange({ ...settings, music: { ...settings.music, asset_id } })} />
      <span>Logo watermark</span>
      <AssetPicker label="Logo watermark" none="No watermark" assets={library.filter((a) => a.kind === "image")} value={mark?.asset_id ?? null}
        onPick={(asset_id) => onChange({ ...settings, watermark: asset_id ? { position: "bottom-right", size: 0.15, opacity: 0.8, ...mark, asset_id } : null })} />
      {mark && (
        <>
          <label class="stack"><span>Corner</span>
            <select value={mark.position} onChange={(e) => setMark({ position: e.currentTarget.value as Watermark["position"] })}>
              {Object.entries(CORNERS).map(([value, text]) => <option value={value}>{text}</option>)}
            </select>
          </label>
          <label class="stack"><span>Logo size: {Math.round(mark.size * 100)}% of the width</span>
            <input type="range" min={0.05} max={0.5} step={0.01} value={mark.size} onInput={(e) => setMark({ size: Number(e.currentTarget.value) })} />
          </label>
          <label class="stack"><span>Logo opacity: {Math.round(mark.opacity * 100)}%</span>
            <input type="range" min={0} max={1} step={0.05} value={mark.opacity} onInput={(e) => setMark({ opacity: Number(e.currentTarget.value) })} />
          </label>
        </>
      )}
    </fieldset>
  );
}

/** "Save as template": the project's style (its settings, saved first if changed) as a new
 * template of mine, then a link to the Templates page. */
function SaveTemplateDialog({ project, dirty, save, onClose }: { project: Project; dirty: boolean; save: () => Promise<boolean>; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Template | null>(null);
  useEffect(() => dialog.current?.showModal(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!name.trim()) {
      setErrors({ name: "Give the template a name." });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      if (dirty && !(await save())) {
        setErrors({ form: "Your changes could not be saved, so no template was made: see the message on the page." });
        return;
      }
      const body = { name: name.trim(), description: description.trim(), from_project: project.id };
      setCreated(await json<Template>("/templates", { method: "POST", body }));
    } catch (problem) {
      setErrors(fieldErrors(problem, ["name", "description"]));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} class="share-dialog card" aria-labelledby="template-title" onClose={onClose}>
      <div class="page-head">
        <h2 id="template-title">Save as template</h2>
        <button type="button" class="button ghost small" aria-label="Close" onClick={() => dialog.current?.close()}>×</button>
      </div>
      {created ? (
        <div role="status">
          <p class="banner info">Saved “{created.name}” as a template (version {created.version}).</p>
          <div class="actions">
            <a class="button primary" href="/templates" onClick={() => dialog.current?.close()}>Open templates</a>
            <button type="button" class="button" onClick={() => dialog.current?.close()}>Close</button>
          </div>
        </div>
      ) : (
        <form onSubmit={submit} noValidate>
          <p class="muted">The template keeps this project's shape, captions, music, voice, pacing and title cards{dirty ? "; your unsaved changes are saved first" : ""}. Length, resolution and language stay each project's own.</p>
          <Field id="template-name" label="Template name" error={errors.name}>
            <input id="template-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} aria-invalid={!!errors.name} aria-describedby={describedBy("template-name", errors.name)} />
          </Field>
          <Field id="template-description" label="Description (optional)" error={errors.description}>
            <textarea id="template-description" rows={2} value={description} maxLength={300} onInput={(e) => setDescription(e.currentTarget.value)} aria-describedby={describedBy("template-description", errors.description)} />
          </Field>
          {errors.form && <div class="banner bad" role="alert">{errors.form}</div>}
          <div class="actions">
            <button type="submit" class="button primary" disabled={busy}>{busy ? "Saving…" : "Save template"}</button>
            <button type="button" class="button" onClick={() => dialog.current?.close()}>Cancel</button>
          </div>
        </form>
      )}
    </dialog>
  );
}
