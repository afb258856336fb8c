export function words(text: string): number {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/).length : 0;
}

export function seconds(value: number | null | undefined): string {
  if (value == null) return "—";
  const s = Math.round(value);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "never";
  const date = new Date(iso);
  const ago = (Date.now() - date.getTime()) / 1000;
  if (ago < 60) return "just now";
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  if (ago < 86400) return `${Math.round(ago / 3600)} h ago`;
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function bytes(value: number): string {
  if (value < 1e3) return `${value} B`;
  if (value < 1e6) return `${(value / 1e3).toFixed(0)} KB`;
  if (value < 1e9) return `${(value / 1e6).toFixed(1)} MB`;
  return `${(value / 1e9).toFixed(2)} GB`;
}

export function usd(value: number): string {
  return value === 0 ? "$0" : value < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export const STAGES = ["script", "scenes", "visuals", "voice", "captions", "music", "compose", "checks", "publish"] as const;

export const STAGE_LABEL: Record<string, string> = {
  input: "Reading the project",
  script: "Writing the script",
  scenes: "Planning scenes",
  visuals: "Making visuals",
  voice: "Recording the voice",
  captions: "Timing captions",
  music: "Composing music",
  compose: "Putting the video together",
  checks: "Checking the video",
  publish: "Saving the files",
};

export const STATUS_LABEL: Record<string, string> = {
  queued: "Queued",
  running: "Rendering",
  succeeded: "Ready",
  failed: "Failed",
  canceled: "Canceled",
  draft: "Draft",
};

/** A failure in plain words, from the error class the worker recorded
 * (`validation`, `provider` or `system`, see jobs/retry.py) and its message. */
export function plainError(errorClass: string, message: string): string {
  const lead: Record<string, string> = {
    validation: "Something in the project cannot be rendered as it is: change it, then try again.",
    provider: "A service the render relies on kept failing, even after automatic retries.",
    system: "Something went wrong on the server; the operators have been told.",
  };
  const detail = message ? ` Details: ${message.replace(/\.$/, "")}.` : "";
  return `${lead[errorClass] ?? "The render stopped with an error."}${detail}`;
}
