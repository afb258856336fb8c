import { useEffect, useState } from "preact/hooks";
import { type Settings, type Template, json } from "./api";

/** The template's style over `settings`: what picking it in the create flow changes. The
 * length, resolution, language and seed stay the user's own. */
export function withTemplate(settings: Settings, template: Template | null): Settings {
  if (!template) return { ...settings, template_id: null };
  return { ...settings, ...template.style, template_id: template.id };
}

/** Built-in and my templates as a gallery of preview frames; one (or none) is picked. */
export function TemplateGallery({ picked, onPick, preselect = null }: {
  picked: string | null;
  onPick: (template: Template | null) => void;
  /** A template to pick once the list is in (`/new?template=<id>`, from the Templates page). */
  preselect?: string | null;
}) {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    json<Template[]>("/templates")
      .then((all) => {
        setTemplates(all);
        if (!preselect) return;
        const found = all.find((t) => t.id === preselect);
        if (found) onPick(found);
        else setError("That template no longer exists: pick another one.");
      })
      .catch(() => setError("Templates could not be listed."));
  }, []);

  return (
    <fieldset class="templates">
      <legend>Template</legend>
      {error && <div class="error" role="alert">{error}</div>}
      <div class="template-grid" role="radiogroup" aria-label="Template">
        <label class={`template-option${picked === null ? " on" : ""}`}>
          <input type="radio" name="template" checked={picked === null} onChange={() => onPick(null)} aria-label="No template" aria-describedby="template-none-desc" />
          <span class="template-frame template-none" aria-hidden="true">Aa</span>
          <span class="template-name">No template</span>
          <span class="template-desc" id="template-none-desc">Choose every setting yourself.</span>
        </label>
        {(templates ?? []).map((t) => (
          <label class={`template-option${picked === t.id ? " on" : ""}`} key={t.id}>
            <input type="radio" name="template" value={t.id} checked={picked === t.id} onChange={() => onPick(t)} aria-label={t.name} aria-describedby={`template-${t.id}-desc`} />
            <span class="template-frame"><img src={t.preview_url} alt="" loading="lazy" width={160} height={90} /></span>
            <span class="template-name">{t.name}{t.builtin ? "" : ` · v${t.version}`}</span>
            <span class="template-desc" id={`template-${t.id}-desc`}>{t.description}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
