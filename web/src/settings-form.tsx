import { useEffect, useRef, useState } from "preact/hooks";
import { type Settings, type Voice, blobUrl, json } from "./api";

export const DEFAULT_SETTINGS: Settings = {
  aspect: "16:9",
  resolution: "720p",
  fps: 30,
  target_duration_s: 30,
  language: "en",
  voice: "joe",
  speaking_rate: 1,
  captions: { enabled: true, position: "bottom", size: 1, style: "word_highlight", max_words_per_cue: 7 },
  music: { enabled: true, mood: "calm", volume: 0.25, file: null },
  visual_style: "modern",
  seed: 7,
  template_id: null,
};

const RES_ORDER = ["480p", "720p", "1080p"];

let voicesCache: Promise<Voice[]> | null = null;
function loadVoices(): Promise<Voice[]> {
  voicesCache ??= json<Voice[]>("/voices").catch((problem) => {
    voicesCache = null;
    throw problem;
  });
  return voicesCache;
}

/** The frame's shape drawn to scale, with the captions where they will sit. */
function FramePreview({ settings }: { settings: Settings }) {
  const [w, h] = settings.aspect === "16:9" ? [16, 9] : settings.aspect === "9:16" ? [9, 16] : [1, 1];
  return (
    <div class="frame-box" aria-hidden="true">
      <div class={`frame style-${settings.visual_style}`} style={{ aspectRatio: `${w} / ${h}` }}>
        {settings.captions.enabled && (
          <span class={`frame-caption at-${settings.captions.position} cap-${settings.captions.style}`} style={{ fontSize: `${0.7 * settings.captions.size}em` }}>
            Captions here
          </span>
        )}
      </div>
    </div>
  );
}

export function SettingsForm({ settings, onChange, maxResolution, maxDuration }: {
  settings: Settings;
  onChange: (next: Settings) => void;
  maxResolution: string;
  maxDuration: number;
}) {
  const [voices, setVoices] = useState<Voice[]>([]);
  const [playing, setPlaying] = useState(false);
  const [voiceError, setVoiceError] = useState("");
  const audio = useRef<HTMLAudioElement | null>(null);
  useEffect(() => {
    loadVoices().then(setVoices).catch(() => setVoiceError("Voices could not be listed."));
    return () => audio.current?.pause();
  }, []);

  const set = <K extends keyof Settings>(key: K, value: Settings[K]) => onChange({ ...settings, [key]: value });
  const setCaptions = (patch: Partial<Settings["captions"]>) => set("captions", { ...settings.captions, ...patch });
  const setMusic = (patch: Partial<Settings["music"]>) => set("music", { ...settings.music, ...patch });
  const allowed = RES_ORDER.slice(0, RES_ORDER.indexOf(maxResolution) + 1);

  const play = async () => {
    const voice = voices.find((v) => v.id === settings.voice);
    if (!voice?.sample_url) return;
    setVoiceError("");
    setPlaying(true);
    try {
      const src = await blobUrl(voice.sample_url);
      audio.current?.pause();
      audio.current = new Audio(src);
      audio.current.playbackRate = settings.speaking_rate;
      audio.current.onended = () => setPlaying(false);
      await audio.current.play();
    } catch {
      setVoiceError("The sample could not be played.");
      setPlaying(false);
    }
  };

  return (
    <div class="settings">
      <fieldset>
        <legend>Shape</legend>
        <div class="aspect-row">
          <div class="segmented" role="radiogroup" aria-label="Aspect">
            {(["16:9", "9:16", "1:1"] as const).map((aspect) => (
              <label class={settings.aspect === aspect ? "on" : ""}>
                <input type="radio" name="aspect" value={aspect} checked={settings.aspect === aspect} onChange={() => set("aspect", aspect)} />
                {aspect === "16:9" ? "Landscape 16:9" : aspect === "9:16" ? "Portrait 9:16" : "Square 1:1"}
              </label>
            ))}
          </div>
          <FramePreview settings={settings} />
        </div>
        <div class="grid2">
          <label class="stack">
            <span>Resolution</span>
            <select value={settings.resolution} onChange={(e) => set("resolution", e.currentTarget.value as Settings["resolution"])}>
              {RES_ORDER.map((r) => <option value={r} disabled={!allowed.includes(r)}>{r}{allowed.includes(r) ? "" : " (not in your plan)"}</option>)}
            </select>
          </label>
          <label class="stack">
            <span>Target length: {Math.round(settings.target_duration_s)} s</span>
            <input type="range" min={10} max={Math.min(600, maxDuration)} step={5} value={settings.target_duration_s} onInput={(e) => set("target_duration_s", Number(e.currentTarget.value))} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Voice</legend>
        <div class="grid2">
          <div class="stack">
            <label for="voice">Voice</label>
            <div class="with-button">
              <select id="voice" value={settings.voice} onChange={(e) => set("voice", e.currentTarget.value)}>
                {(voices.length ? voices : [{ id: settings.voice, label: settings.voice }]).map((v) => <option value={v.id}>{v.label}</option>)}
              </select>
              <button type="button" class="button small" onClick={play} disabled={playing || !voices.find((v) => v.id === settings.voice)?.sample_url}>{playing ? "Playing…" : "Play sample"}</button>
            </div>
            {voiceError && <div class="error" role="alert">{voiceError}</div>}
          </div>
          <label class="stack">
            <span>Speaking rate: {settings.speaking_rate.toFixed(2)}×</span>
            <input type="range" min={0.5} max={2} step={0.05} value={settings.speaking_rate} onInput={(e) => set("speaking_rate", Number(e.currentTarget.value))} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Captions</legend>
        <label class="check"><input type="checkbox" checked={settings.captions.enabled} onChange={(e) => setCaptions({ enabled: e.currentTarget.checked })} /> Show captions</label>
        <div class="grid3">
          <label class="stack"><span>Caption style</span>
            <select value={settings.captions.style} disabled={!settings.captions.enabled} onChange={(e) => setCaptions({ style: e.currentTarget.value as Settings["captions"]["style"] })}>
              <option value="word_highlight">Word by word</option><option value="outline">Outline</option><option value="box">Box</option>
            </select>
          </label>
          <label class="stack"><span>Caption position</span>
            <select value={settings.captions.position} disabled={!settings.captions.enabled} onChange={(e) => setCaptions({ position: e.currentTarget.value as Settings["captions"]["position"] })}>
              <option value="bottom">Bottom</option><option value="center">Center</option><option value="top">Top</option>
            </select>
          </label>
          <label class="stack"><span>Caption size: {settings.captions.size.toFixed(1)}×</span>
            <input type="range" min={0.5} max={2} step={0.1} value={settings.captions.size} disabled={!settings.captions.enabled} onInput={(e) => setCaptions({ size: Number(e.currentTarget.value) })} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Music and look</legend>
        <label class="check"><input type="checkbox" checked={settings.music.enabled} onChange={(e) => setMusic({ enabled: e.currentTarget.checked })} /> Background music</label>
        <div class="grid3">
          <label class="stack"><span>Music mood</span>
            <select value={settings.music.mood} disabled={!settings.music.enabled} onChange={(e) => setMusic({ mood: e.currentTarget.value as Settings["music"]["mood"] })}>
              <option value="calm">Calm</option><option value="upbeat">Upbeat</option><option value="dramatic">Dramatic</option><option value="dreamy">Dreamy</option>
            </select>
          </label>
          <label class="stack"><span>Music volume: {Math.round(settings.music.volume * 100)}%</span>
            <input type="range" min={0} max={1} step={0.05} value={settings.music.volume} disabled={!settings.music.enabled} onInput={(e) => setMusic({ volume: Number(e.currentTarget.value) })} />
          </label>
          <label class="stack"><span>Visual style</span>
            <select value={settings.visual_style} onChange={(e) => set("visual_style", e.currentTarget.value as Settings["visual_style"])}>
              <option value="modern">Modern</option><option value="warm">Warm</option><option value="ocean">Ocean</option><option value="noir">Noir</option><option value="pastel">Pastel</option>
            </select>
          </label>
        </div>
      </fieldset>
    </div>
  );
}
