import { useEffect, useRef, useState } from "preact/hooks";
import { type Estimate, Problem, type Project, type Render, type Settings, json } from "../api";
import { Field, type Session, describedBy, useTitle } from "../components";
import { seconds, usd, words } from "../format";
import { navigate } from "../router";
import { DEFAULT_SETTINGS, SettingsForm } from "../settings-form";
import { TemplateGallery, withTemplate } from "../template-gallery";

export function NewProject({ session }: { session: Session }) {
  useTitle("New project");
  const { limits } = session.me;
  const [name, setName] = useState("");
  const [prompt, setPrompt] = useState("");
  const [settings, setSettings] = useState<Settings>(() => ({
    ...DEFAULT_SETTINGS,
    resolution: limits.max_resolution === "480p" ? "480p" : "720p",
    target_duration_s: Math.min(30, limits.max_duration_s),
  }));
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const [preselect] = useState(() => new URLSearchParams(location.search).get("template"));

  useEffect(() => {
    const timer = window.setTimeout(() => {
      json<Estimate>("/estimate", { method: "POST", body: { prompt, settings } }).then(setEstimate).catch(() => setEstimate(null));
    }, 250);
    return () => window.clearTimeout(timer);
  }, [prompt, settings]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!name.trim()) found.name = "Give the project a name.";
    if (!prompt.trim()) found.prompt = "Write what the video should say.";
    setErrors(found);
    if (Object.keys(found).length) {
      form.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
      return;
    }
    setBusy(true);
    try {
      const body = { name: name.trim(), prompt, settings, template_id: settings.template_id };
      const project = await json<Project>("/projects", { method: "POST", body });
      const render = await json<Render>(`/projects/${project.id}/renders`, {
        method: "POST",
        headers: { "Idempotency-Key": `create-${project.id}` },
      });
      navigate(`/renders/${render.id}`);
    } catch (problem) {
      const p = problem instanceof Problem ? problem : null;
      const field = p?.field?.split(".")[0];
      if (field === "name" || field === "prompt") setErrors({ [field]: p!.detail });
      else setErrors({ form: p ? p.detail : "Cannot reach the server." });
    } finally {
      setBusy(false);
    }
  };

  const count = words(prompt);
  const wantWords = Math.round((settings.target_duration_s / 60) * 150 * settings.speaking_rate);
  return (
    <form class="create" ref={form} onSubmit={submit} noValidate>
      <div class="page-head"><h1>New project</h1></div>
      <div class="create-grid">
        <section class="card">
          <Field id="project-name" label="Project name" error={errors.name}>
            <input id="project-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} aria-invalid={!!errors.name} aria-describedby={describedBy("project-name", errors.name)} />
          </Field>
          <Field id="prompt" label="Prompt" error={errors.prompt} hint={
            <>
              <span aria-live="polite">{count} {count === 1 ? "word" : "words"}</span> · about {wantWords} fit {Math.round(settings.target_duration_s)} s.{" "}
              {estimate?.script === "llm"
                ? "A language model turns this into a script, then it is narrated."
                : "It is narrated as written, sentence by sentence, over matching visuals; write the words you want to hear."}
            </>
          }>
            <textarea id="prompt" rows={8} value={prompt} maxLength={20000} onInput={(e) => setPrompt(e.currentTarget.value)} aria-invalid={!!errors.prompt} aria-describedby={describedBy("prompt", errors.prompt, true)} />
          </Field>
          <TemplateGallery picked={settings.template_id} preselect={preselect} onPick={(t) => setSettings((current) => withTemplate(current, t))} />
          <SettingsForm settings={settings} onChange={setSettings} maxResolution={limits.max_resolution} maxDuration={limits.max_duration_s} />
        </section>
        <aside class="card summary" aria-labelledby="estimate-title">
          <h2 id="estimate-title">Before you render</h2>
          <dl class="stats one">
            <div><dt>Render time</dt><dd>{estimate ? `about ${seconds(estimate.render_seconds)}` : "—"}</dd></div>
            <div><dt>Provider cost</dt><dd>{estimate ? (estimate.cost_usd === 0 ? "$0 (offline)" : usd(estimate.cost_usd)) : "—"}</dd></div>
          </dl>
          {errors.form && <div class="banner bad" role="alert">{errors.form}</div>}
          <button class="button primary wide" type="submit" disabled={busy}>{busy ? "Starting…" : "Generate video"}</button>
        </aside>
      </div>
    </form>
  );
}
