// The template library: the built-ins and mine with their preview frames. Mine can be
// renamed, described, restyled (each save is a new version) and deleted; any can be
// duplicated into mine or used for a new project (`/new?template=<id>`).
import { useEffect, useRef, useState } from "preact/hooks";
import { Problem, type Template, type TemplateStyle, fieldErrors, json } from "../api";
import { ErrorBanner, Field, describedBy, useTitle } from "../components";

const ASPECT_LABEL: Record<string, string> = { "16:9": "Landscape 16:9", "9:16": "Portrait 9:16", "1:1": "Square 1:1" };
const CAPTION_LABEL: Record<string, string> = { word_highlight: "Word by word", outline: "Outline", box: "Box" };

export function Templates() {
  useTitle("Templates");
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const [status, setStatus] = useState("");

  const load = async () => {
    try {
      setTemplates(await json<Template[]>("/templates"));
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot list the templates.");
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const duplicate = async (template: Template) => {
    setProblem(null);
    try {
      const copy = await json<Template>("/templates", {
        method: "POST",
        body: { name: `${template.name} (copy)`.slice(0, 200), description: template.description, from_template: template.id },
      });
      setStatus(`Duplicated as “${copy.name}”: it is now in My templates.`);
      await load();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot duplicate the template.");
    }
  };

  const mine = (templates ?? []).filter((t) => !t.builtin);
  const builtins = (templates ?? []).filter((t) => t.builtin);
  return (
    <div class="template-library">
      <div class="page-head">
        <h1>Templates</h1>
        <p class="muted">A template sets a video's shape, captions, music, voice, pacing and title cards. Save one from a project's storyboard page, or duplicate a built-in one.</p>
      </div>
      <div class="visually-hidden" role="status" aria-live="polite">{status}</div>
      {status && <p class="banner info" aria-hidden="true">{status}</p>}
      <ErrorBanner problem={problem} />
      {templates === null ? (
        <p class="muted" aria-busy="true">Loading…</p>
      ) : (
        <>
          <section aria-labelledby="mine-title">
            <h2 id="mine-title">My templates</h2>
            {mine.length === 0 ? (
              <p class="empty">You have no templates yet: open a project and choose “Save as template”, or duplicate a built-in one below.</p>
            ) : (
              <ul class="cards" aria-label="My templates">
                {mine.map((t) => <TemplateCard key={t.id} template={t} onDuplicate={duplicate} onChanged={load} onStatus={setStatus} />)}
              </ul>
            )}
          </section>
          <section aria-labelledby="builtin-title" class="builtin-templates">
            <h2 id="builtin-title">Built-in templates</h2>
            <ul class="cards" aria-label="Built-in templates">
              {builtins.map((t) => <TemplateCard key={t.id} template={t} onDuplicate={duplicate} onChanged={load} onStatus={setStatus} />)}
            </ul>
          </section>
        </>
      )}
    </div>
  );
}

function TemplateCard({ template: t, onDuplicate, onChanged, onStatus }: {
  template: Template;
  onDuplicate: (template: Template) => Promise<void>;
  onChanged: () => Promise<void>;
  onStatus: (message: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState("");
  const [saved, setSaved] = useState("");
  const s = t.style;

  const remove = async () => {
    setError("");
    try {
      await json(`/templates/${t.id}`, { method: "DELETE" });
      onStatus(`Deleted “${t.name}”. Projects made from it keep their settings.`);
      await onChanged();
    } catch (problem) {
      setError(problem instanceof Problem ? problem.detail : "Cannot delete it.");
      setConfirming(false);
    }
  };

  const facts = [ASPECT_LABEL[s.aspect] ?? s.aspect, `${CAPTION_LABEL[s.captions.style] ?? s.captions.style} captions`, `${s.music.enabled ? s.music.mood : "no"} music`];
  return (
    <li class="project card template-card" data-template={t.id}>
      <div class="thumb template-thumb">
        <img src={t.preview_url} alt={`Preview of ${t.name}`} loading="lazy" width={240} height={135} />
      </div>
      <div class="project-body">
        <h3 class="project-title">{t.name}</h3>
        <p class="meta">
          {t.builtin ? <span class="status">Built in</span> : <span class="status status-version">Version {t.version}</span>}
          {facts.map((fact) => <span>{fact}</span>)}
        </p>
        {t.description && <p class="template-desc">{t.description}</p>}
        {saved && <p class="saved" role="status">{saved}</p>}
        {error && <p class="error" role="alert">{error}</p>}
        <div class="actions">
          <a class="button small primary" href={`/new?template=${encodeURIComponent(t.id)}`} aria-label={`Use ${t.name} for a new project`}>Use</a>
          <button type="button" class="button small" onClick={() => onDuplicate(t)} aria-label={`Duplicate ${t.name}`}>Duplicate</button>
          {!t.builtin && <>
            <button type="button" class="button small" aria-expanded={editing} aria-label={`Edit ${t.name}`} onClick={() => { setEditing(!editing); setSaved(""); }}>Edit</button>
            <button type="button" class="button small danger" aria-label={`Delete ${t.name}`} onClick={() => setConfirming(true)}>Delete</button>
          </>}
        </div>
        {confirming && (
          <div class="banner warn confirm" role="alertdialog" aria-label={`Delete ${t.name}?`}>
            <span>Delete “{t.name}” and all its versions? Projects made from it keep their settings.</span>
            <div class="actions">
              <button type="button" class="button danger small" onClick={remove}>Delete template</button>
              <button type="button" class="button small" onClick={() => setConfirming(false)}>Cancel</button>
            </div>
          </div>
        )}
        {editing && (
          <TemplateForm
            template={t}
            onCancel={() => setEditing(false)}
            onSaved={async (next) => {
              setEditing(false);
              setSaved(`Saved as version ${next.version}.`);
              onStatus(`“${next.name}” saved as version ${next.version}.`);
              await onChanged();
            }}
          />
        )}
      </div>
    </li>
  );
}

/** The name, the description and the main style fields; a save is a `PATCH` (a new version). */
function TemplateForm({ template, onCancel, onSaved }: { template: Template; onCancel: () => void; onSaved: (next: Template) => Promise<void> }) {
  const [name, setName] = useState(template.name);
  const [description, setDescription] = useState(template.description);
  const [style, setStyle] = useState<TemplateStyle>(template.style);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const id = (field: string) => `tpl-${template.id}-${field}`;

  useEffect(() => {
    form.current?.querySelector<HTMLElement>("input")?.focus();
  }, []);

  const set = <K extends keyof TemplateStyle>(key: K, patch: Partial<TemplateStyle[K]>) =>
    setStyle({ ...style, [key]: { ...(style[key] as object), ...patch } });

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!name.trim()) {
      setErrors({ name: "Give the template a name." });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const body = {
        name: name.trim(),
        description,
        style: {
          aspect: style.aspect,
          speaking_rate: style.speaking_rate,
          captions: {
            style: style.captions.style, position: style.captions.position,
            color: style.captions.color, highlight_color: style.captions.highlight_color,
          },
          music: { mood: style.music.mood, volume: style.music.volume },
          cards: style.cards,
          pacing: style.pacing,
        },
      };
      await onSaved(await json<Template>(`/templates/${template.id}`, { method: "PATCH", body }));
    } catch (problem) {
      setErrors(fieldErrors(problem, ["name", "description"]));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="template-form" ref={form} onSubmit={submit} noValidate aria-label={`Edit ${template.name}`}>
      <Field id={id("name")} label="Name" error={errors.name}>
        <input id={id("name")} value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} aria-invalid={!!errors.name} aria-describedby={describedBy(id("name"), errors.name)} />
      </Field>
      <Field id={id("description")} label="Description" error={errors.description}>
        <textarea id={id("description")} rows={2} value={description} maxLength={300} onInput={(e) => setDescription(e.currentTarget.value)} aria-describedby={describedBy(id("description"), errors.description)} />
      </Field>
      <fieldset>
        <legend>Shape and voice</legend>
        <div class="grid2">
          <label class="stack"><span>Aspect</span>
            <select value={style.aspect} onChange={(e) => setStyle({ ...style, aspect: e.currentTarget.value as TemplateStyle["aspect"] })}>
              {Object.entries(ASPECT_LABEL).map(([value, label]) => <option value={value}>{label}</option>)}
            </select>
          </label>
          <label class="stack"><span>Voice rate: {style.speaking_rate.toFixed(2)}×</span>
            <input type="range" min={0.5} max={2} step={0.05} value={style.speaking_rate} onInput={(e) => setStyle({ ...style, speaking_rate: Number(e.currentTarget.value) })} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Captions</legend>
        <div class="grid2">
          <label class="stack"><span>Caption style</span>
            <select value={style.captions.style} onChange={(e) => set("captions", { style: e.currentTarget.value as TemplateStyle["captions"]["style"] })}>
              {Object.entries(CAPTION_LABEL).map(([value, label]) => <option value={value}>{label}</option>)}
            </select>
          </label>
          <label class="stack"><span>Caption position</span>
            <select value={style.captions.position} onChange={(e) => set("captions", { position: e.currentTarget.value as TemplateStyle["captions"]["position"] })}>
              <option value="bottom">Bottom</option><option value="center">Center</option><option value="top">Top</option>
            </select>
          </label>
          <label class="stack"><span>Caption colour</span>
            <input type="color" value={(style.captions.color ?? "#FFFFFF").toLowerCase()} onInput={(e) => set("captions", { color: e.currentTarget.value.toUpperCase() })} />
          </label>
          <label class="stack"><span>Highlight colour</span>
            <input type="color" value={(style.captions.highlight_color ?? "#FFD700").toLowerCase()} onInput={(e) => set("captions", { highlight_color: e.currentTarget.value.toUpperCase() })} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Music</legend>
        <div class="grid2">
          <label class="stack"><span>Music mood</span>
            <select value={style.music.mood} onChange={(e) => set("music", { mood: e.currentTarget.value as TemplateStyle["music"]["mood"] })}>
              <option value="calm">Calm</option><option value="upbeat">Upbeat</option><option value="dramatic">Dramatic</option><option value="dreamy">Dreamy</option>
            </select>
          </label>
          <label class="stack"><span>Music level: {Math.round(style.music.volume * 100)}%</span>
            <input type="range" min={0} max={1} step={0.05} value={style.music.volume} onInput={(e) => set("music", { volume: Number(e.currentTarget.value) })} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Title cards and pacing</legend>
        <div class="grid2">
          <label class="stack"><span>Intro card text</span>
            <input value={style.cards.intro} maxLength={200} placeholder="None" onInput={(e) => set("cards", { intro: e.currentTarget.value })} />
          </label>
          <label class="stack"><span>Outro card text</span>
            <input value={style.cards.outro} maxLength={200} placeholder="None" onInput={(e) => set("cards", { outro: e.currentTarget.value })} />
          </label>
          <label class="stack"><span>Card colour</span>
            <input type="color" value={style.cards.color.toLowerCase()} onInput={(e) => set("cards", { color: e.currentTarget.value.toUpperCase() })} />
          </label>
          <label class="stack"><span>Seconds per scene: {style.pacing.scene_s.toFixed(1)} s</span>
            <input type="range" min={2} max={20} step={0.5} value={style.pacing.scene_s} onInput={(e) => set("pacing", { scene_s: Number(e.currentTarget.value) })} />
          </label>
          <label class="stack"><span>Between scenes</span>
            <select value={style.pacing.transition} onChange={(e) => set("pacing", { transition: e.currentTarget.value as TemplateStyle["pacing"]["transition"] })}>
              <option value="fade">Fade</option><option value="cut">Cut</option>
            </select>
          </label>
        </div>
      </fieldset>
      {errors.form && <div class="banner bad" role="alert">{errors.form}</div>}
      <div class="actions">
        <button type="submit" class="button primary" disabled={busy}>{busy ? "Saving…" : "Save as a new version"}</button>
        <button type="button" class="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
