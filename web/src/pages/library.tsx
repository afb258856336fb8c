import { useEffect, useState } from "preact/hooks";
import { type Asset, type Page, Problem, json, uploadAsset } from "../api";
import { ErrorBanner, type Session, useTitle } from "../components";
import { bytes, seconds } from "../format";

const KINDS = { "": "All kinds", image: "Images", clip: "Clips", audio: "Audio" } as const;
const ACCEPT = "image/png,image/jpeg,image/webp,video/mp4,video/quicktime,video/webm,audio/mpeg,audio/wav,audio/ogg,audio/mp4,.m4a";

interface Sending {
  id: number;
  name: string;
  fraction: number;
  error: string;
}

let nextUpload = 1;

export function StorageMeter({ session }: { session: Session }) {
  const { usage, limits } = session.me;
  const used = usage.storage_bytes;
  const quota = limits.storage_bytes;
  return (
    <div class="storage">
      <p class="meta"><span>Storage: {bytes(used)} of {bytes(quota)}</span></p>
      <div class="meter" role="progressbar" aria-label="Storage used" aria-valuemin={0} aria-valuemax={quota} aria-valuenow={used}>
        <span style={{ width: `${Math.min(100, (100 * used) / Math.max(quota, 1))}%` }} />
      </div>
    </div>
  );
}

export function Library({ session }: { session: Session }) {
  useTitle("Library");
  const [assets, setAssets] = useState<Asset[] | null>(null);
  const [query, setQuery] = useState("");
  const [kind, setKind] = useState<keyof typeof KINDS>("");
  const [tag, setTag] = useState("");
  const [sending, setSending] = useState<Sending[]>([]);
  const [over, setOver] = useState(false);
  const [problem, setProblem] = useState<Problem | string | null>(null);

  const load = async () => {
    const params = new URLSearchParams({ limit: "100" });
    if (query.trim()) params.set("q", query.trim());
    if (kind) params.set("kind", kind);
    if (tag) params.set("tag", tag);
    try {
      setAssets((await json<Page<Asset>>(`/assets?${params}`)).items);
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot load your library.");
    }
  };

  useEffect(() => {
    const timer = window.setTimeout(load, query ? 200 : 0);
    return () => window.clearTimeout(timer);
  }, [query, kind, tag]);

  const send = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const id = nextUpload++;
      const update = (patch: Partial<Sending>) => setSending((all) => all.map((s) => (s.id === id ? { ...s, ...patch } : s)));
      setSending((all) => [...all, { id, name: file.name, fraction: 0, error: "" }]);
      try {
        await uploadAsset(file, (fraction) => update({ fraction }));
        setSending((all) => all.filter((s) => s.id !== id));
        await Promise.all([load(), session.reloadMe()]);
      } catch (error) {
        update({ error: error instanceof Problem ? error.detail : "The upload failed." });
      }
    }
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (event.dataTransfer?.files.length) void send(event.dataTransfer.files);
  };

  return (
    <div class="library">
      <div class="page-head">
        <h1>Library</h1>
      </div>
      <section class="card plan" aria-label="Storage">
        <StorageMeter session={session} />
      </section>
      <label
        class={`dropzone card${over ? " over" : ""}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <strong>Drop images, clips or songs here</strong>
        <span class="muted"> or choose files (PNG, JPEG, WebP; MP4, MOV, WebM; MP3, WAV, OGG, M4A — up to {bytes(session.me.limits.max_upload_bytes)}, {seconds(session.me.limits.max_asset_duration_s)} for clips and songs)</span>
        <input type="file" multiple accept={ACCEPT} aria-label="Upload files" onChange={(e) => { const files = e.currentTarget.files; if (files) void send(files); e.currentTarget.value = ""; }} />
      </label>
      {sending.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {sending.map((s) => (
            <li key={s.id}>
              <span>{s.name}</span>
              {s.error ? (
                <span class="error" role="alert">{s.error} <button type="button" class="button ghost small" onClick={() => setSending((all) => all.filter((x) => x.id !== s.id))}>Dismiss</button></span>
              ) : (
                <progress max={1} value={s.fraction} aria-label={`Uploading ${s.name}`} />
              )}
            </li>
          ))}
        </ul>
      )}
      <div class="toolbar" role="search">
        <label class="inline-field"><span>Search</span>
          <input type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} placeholder="Name or tag" />
        </label>
        <label class="inline-field"><span>Kind</span>
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as keyof typeof KINDS)}>
            {Object.entries(KINDS).map(([value, label]) => <option value={value}>{label}</option>)}
          </select>
        </label>
      </div>
      {tag && <p class="meta">Tagged “{tag}” <button type="button" class="button ghost small" onClick={() => setTag("")}>Show all</button></p>}
      <ErrorBanner problem={problem} />
      {assets === null ? (
        <p class="muted" aria-busy="true">Loading…</p>
      ) : assets.length === 0 ? (
        <p class="empty">{query || kind || tag ? "No asset matches." : "Your library is empty: upload a logo, a clip or a song to use in your videos."}</p>
      ) : (
        <ul class="cards" aria-label="Assets">
          {assets.map((asset) => <AssetCard key={asset.id} asset={asset} onTag={setTag} onChanged={() => Promise.all([load(), session.reloadMe()]).then(() => undefined)} />)}
        </ul>
      )}
    </div>
  );
}

function AssetCard({ asset, onTag, onChanged }: { asset: Asset; onTag: (tag: string) => void; onChanged: () => Promise<void> }) {
  const [confirming, setConfirming] = useState<"" | "ask" | "used">("");
  const [used, setUsed] = useState("");
  const [tags, setTags] = useState(asset.tags.join(", "));
  const [error, setError] = useState("");

  const remove = async (force: boolean) => {
    setError("");
    try {
      await json(`/assets/${asset.id}${force ? "?force=true" : ""}`, { method: "DELETE" });
      await onChanged();
    } catch (problem) {
      if (problem instanceof Problem && problem.status === 409) {
        setUsed(problem.detail);
        setConfirming("used");
      } else setError(problem instanceof Problem ? problem.detail : "Cannot delete it.");
    }
  };
  const saveTags = async (event: Event) => {
    event.preventDefault();
    setError("");
    try {
      await json(`/assets/${asset.id}`, { method: "PATCH", body: { tags: tags.split(",").map((t) => t.trim()).filter(Boolean) } });
      await onChanged();
    } catch (problem) {
      setError(problem instanceof Problem ? problem.detail : "Cannot save the tags.");
    }
  };

  const facts = [
    asset.kind,
    asset.width ? `${asset.width}×${asset.height}` : "",
    asset.duration_s != null ? seconds(asset.duration_s) : "",
    bytes(asset.size_bytes),
  ].filter(Boolean);
  return (
    <li class="project card asset" data-asset={asset.name}>
      <div class="thumb asset-thumb">
        {asset.links.thumbnail ? <img src={asset.links.thumbnail} alt="" loading="lazy" /> : <span class="thumb-empty audio-thumb" aria-hidden="true">♫</span>}
      </div>
      <div class="project-body">
        <h2 class="project-title">{asset.name}</h2>
        <p class="meta">{facts.map((fact) => <span>{fact}</span>)}</p>
        {asset.kind === "audio" && <audio controls preload="none" src={asset.links.file} aria-label={`Play ${asset.name}`} />}
        <p class="meta">{asset.tags.map((tag) => <button type="button" class="tag" onClick={() => onTag(tag)}>#{tag}</button>)}</p>
        <form class="with-button" onSubmit={saveTags}>
          <input value={tags} aria-label={`Tags of ${asset.name}`} placeholder="tags, comma separated" onInput={(e) => setTags(e.currentTarget.value)} />
          <button type="submit" class="button small">Save tags</button>
        </form>
        {error && <p class="error" role="alert">{error}</p>}
        {confirming === "" && <button type="button" class="button small danger" onClick={() => setConfirming("ask")}>Delete</button>}
        {confirming !== "" && (
          <div class="banner warn" role="alertdialog" aria-label={`Delete ${asset.name}?`}>
            <span>{confirming === "used" ? `${used}. Delete it anyway? Those projects will need another asset; finished videos stay as they are.` : `Delete “${asset.name}”?`}</span>
            <div class="actions">
              <button type="button" class="button danger small" onClick={() => remove(confirming === "used")}>{confirming === "used" ? "Delete anyway" : "Delete"}</button>
              <button type="button" class="button small" onClick={() => setConfirming("")}>Cancel</button>
            </div>
          </div>
        )}
      </div>
    </li>
  );
}
