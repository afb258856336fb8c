// The one HTTP client: a bearer access token kept in memory (never in storage), the
// HttpOnly refresh cookie behind it, one shared refresh when a request gets a 401, and
// problem+json errors turned into `Problem`s a form can show next to its fields.

export const API = "/api/v1";

export type Plan = "free" | "basic" | "pro" | "enterprise";

export interface Me {
  id: string;
  email: string;
  name: string;
  plan: Plan;
  is_admin: boolean;
  limits: {
    concurrent_renders: number;
    max_duration_s: number;
    max_resolution: string;
    monthly_minutes: number | null;
    max_waiting: number;
    storage_bytes: number;
    max_upload_bytes: number;
    max_asset_duration_s: number;
    max_batch_rows: number;
  };
  usage: { minutes_this_month: number; running: number; waiting: number; cost_usd_this_month?: number; storage_bytes: number };
}

export interface Rating {
  render_id: string;
  stars: number;
  comment: string;
  created_at: string;
  updated_at: string;
}

/** One of the brief's success metrics (`GET /admin/analytics`); `met` null: no verdict. */
export interface Metric {
  key: string;
  title: string;
  value: number | null;
  unit: "ratio" | "s" | "usd" | "stars";
  target: number | null;
  better: "above" | "below";
  met: boolean | null;
}

export interface Analytics {
  since: string;
  until: string;
  metrics: Metric[];
  cost_by_plan: Record<string, number>;
  rating_distribution: Record<string, number>;
  counts: Record<string, number>;
}

export interface Captions {
  enabled: boolean;
  position: "bottom" | "center" | "top";
  size: number;
  style: "outline" | "box" | "word_highlight";
  max_words_per_cue: number;
  color?: string;
  highlight_color?: string;
  bold?: boolean;
}

/** The settings a template sets (`TemplateStyle`): picking one copies them into the form. */
export type TemplateStyle = Pick<Settings, "aspect" | "voice" | "speaking_rate" | "captions" | "music" | "visual_style"> & {
  pacing: { scene_s: number; transition: "fade" | "cut" };
  cards: { intro: string; outro: string; color: string };
  script: { tone: string; hook: string; points: string; call_to_action: string };
};

export interface Template {
  id: string;
  name: string;
  description: string;
  version: number;
  builtin: boolean;
  style: TemplateStyle;
  preview_url: string;
}

export interface Settings {
  aspect: "16:9" | "9:16" | "1:1";
  resolution: "480p" | "720p" | "1080p";
  fps: 24 | 25 | 30;
  target_duration_s: number;
  language: string;
  voice: string;
  speaking_rate: number;
  captions: Captions;
  music: { enabled: boolean; mood: "calm" | "upbeat" | "dramatic" | "dreamy"; volume: number; file: null; asset_id?: string | null };
  watermark?: Watermark | null;
  visual_style: "modern" | "warm" | "ocean" | "noir" | "pastel";
  seed: number;
  template_id: string | null;
  pacing?: TemplateStyle["pacing"];
  cards?: TemplateStyle["cards"];
  script?: TemplateStyle["script"];
}

export interface Project {
  id: string;
  name: string;
  prompt: string;
  settings: Settings;
  template_id: string | null;
  template_version: number | null;
  has_storyboard: boolean;
  created_at: string;
  updated_at: string;
  role: Role;
  shared: boolean;
}

export type Role = "viewer" | "editor" | "owner";

export interface Member {
  id: string;
  user_id: string;
  email: string;
  name: string;
  role: Role;
  status: "invited" | "accepted";
  invited_at: string;
}

export interface Invitation {
  id: string;
  project_id: string;
  project_name: string;
  invited_by: string | null;
  role: Role;
  invited_at: string;
}

export interface ShareLink {
  id: string;
  render_id: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  token?: string;
  url?: string;
}

export interface SharedRender {
  title: string;
  duration_s: number | null;
  finished_at: string | null;
  links: { video: string; thumbnail: string; srt: string; vtt: string };
}

export interface Activity {
  at: string;
  action: string;
  actor: string | null;
  detail: Record<string, string>;
}

export interface Comment {
  id: string;
  scene: number;
  author: string | null;
  body: string;
  created_at: string;
}

export type RenderStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

export interface Render {
  id: string;
  project_id: string | null;
  status: RenderStatus;
  stage: string | null;
  progress: number;
  queue_position: number | null;
  eta_s: number | null;
  attempts: number;
  error: { error_class: string; message: string; stage: string | null } | null;
  cost_usd: number;
  duration_s: number | null;
  scenes_reused: number | null;
  scenes_total: number | null;
  checks: { name: string; ok: boolean; detail: string }[];
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: { video: string; thumbnail: string; srt: string; vtt: string } | null;
}

export interface Watermark {
  asset_id: string;
  position: "top-left" | "top-right" | "bottom-left" | "bottom-right";
  size: number;
  opacity: number;
}

export interface Asset {
  id: string;
  name: string;
  kind: "image" | "clip" | "audio";
  content_type: string;
  size_bytes: number;
  width: number | null;
  height: number | null;
  duration_s: number | null;
  codec: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  links: { file: string; thumbnail: string | null };
}

export interface Visual {
  kind: "generated" | "color" | "stock" | "file";
  prompt: string;
  path: null;
  asset_id?: string | null;
  query: string;
  color: string | null;
}

export interface Scene {
  narration: string;
  headline: string;
  keywords: string[];
  visual: Visual;
  duration_s: number | "auto";
  transition: "fade" | "cut";
}

export interface Storyboard {
  version: 1;
  title: string;
  settings: Settings;
  scenes: Scene[];
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Voice {
  id: string;
  label: string;
  vendor: string;
  sample_url: string | null;
}

export interface Estimate {
  render_seconds: number;
  cost_usd: number;
  lines: { provider: string; units: Record<string, number>; cost_usd: number }[];
  script: string;
  stock_available: boolean;
}

/** An API error (RFC 9457): `detail` is written for people; `field` names the input it is about. */
export interface RowProblem {
  line: number;
  reason: string;
}

export interface BatchRow {
  line: number;
  title: string;
  status: RenderStatus;
  render_id: string | null;
  error: string | null;
}

export interface Batch {
  id: string;
  name: string;
  template_id: string | null;
  created_at: string;
  total: number;
  done: number;
  counts: Record<RenderStatus, number>;
  skipped: RowProblem[];
  rows: BatchRow[];
  links: { results: string; download: string };
}

export interface BatchCheck {
  valid: { line: number; title: string; text: string; duration_s: number }[];
  invalid: RowProblem[];
  plan_problem: string | null;
}

export type WebhookEvent = "render.succeeded" | "render.failed" | "render.canceled" | "batch.finished";

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  description: string;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

/** The answer to a registration: the signing secret, shown this once. */
export interface WebhookCreated extends Webhook {
  secret: string;
}

export interface WebhookAttempt {
  attempted_at: string;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string;
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  event_type: WebhookEvent;
  state: "pending" | "succeeded" | "failed";
  payload: Record<string, unknown>;
  created_at: string;
  next_attempt_at: string | null;
  attempts: WebhookAttempt[];
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string,
    readonly field: string | null = null,
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
  }
}

/** A failed request as a form's errors: the problem's detail under the field it names when
 * the form has that field (`fields`), else under `form`; no answer at all is said as such. */
export function fieldErrors(problem: unknown, fields: readonly string[]): Record<string, string> {
  const p = problem instanceof Problem ? problem : null;
  const field = p?.field && fields.includes(p.field) ? p.field : "form";
  return { [field]: p ? p.detail : "Cannot reach the server." };
}

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const expiredListeners = new Set<() => void>();

export function token(): string | null {
  return accessToken;
}

export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** One refresh at a time: every request that got a 401 waits for the same one. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetch(`${API}/auth/refresh`, { method: "POST", credentials: "same-origin" });
      if (!response.ok) {
        accessToken = null;
        return false;
      }
      accessToken = ((await response.json()) as { access_token: string }).access_token;
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function toProblem(response: Response): Promise<Problem> {
  let body: { type?: string; detail?: string; errors?: { field?: string; loc?: string[]; message?: string }[] } = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON: keep the status text */
  }
  const first = body.errors?.[0];
  const field = first?.field ?? (first?.loc ? String(first.loc[first.loc.length - 1]) : null);
  const retry = response.headers.get("Retry-After");
  return new Problem(
    response.status,
    body.type ?? "",
    body.detail ?? (response.statusText || `HTTP ${response.status}`),
    field,
    retry ? Number(retry) : null,
  );
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Sent as it is with `Content-Type: text/csv` (a batch upload), instead of JSON `body`. */
  csv?: string;
  headers?: Record<string, string>;
}

/** A call with the access token; after a 401, one shared refresh and one retry. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const send = () => {
    const headers: Record<string, string> = { ...options.headers };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.csv !== undefined) headers["Content-Type"] = "text/csv";
    return fetch(`${API}${path}`, {
      method: options.method ?? "GET",
      headers,
      body: options.csv ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      credentials: "same-origin",
    });
  };
  let response = await send();
  if (response.status === 401 && !path.startsWith("/auth/login")) {
    if (await refresh()) response = await send();
    else {
      expiredListeners.forEach((listener) => listener());
      throw await toProblem(response);
    }
  }
  if (!response.ok) throw await toProblem(response);
  return response;
}

export async function json<T>(path: string, options: CallOptions = {}): Promise<T> {
  const response = await call(path, options);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const response = await fetch(`${API}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, client: "browser" }),
    credentials: "same-origin",
  });
  if (!response.ok) throw await toProblem(response);
  accessToken = ((await response.json()) as { access_token: string }).access_token;
}

export async function signOut(): Promise<void> {
  try {
    await call("/auth/logout", { method: "POST" });
  } finally {
    accessToken = null;
  }
}

export async function register(email: string, password: string, name: string): Promise<void> {
  const response = await fetch(`${API}/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, name }),
  });
  if (!response.ok) throw await toProblem(response);
}

/** A file behind auth as an object URL (an `<audio>` cannot send the bearer token). */
export async function blobUrl(path: string): Promise<string> {
  const response = await call(path.replace(API, ""));
  return URL.createObjectURL(await response.blob());
}

/** Upload one file to the asset library, reporting progress (0..1) as it is sent: fetch()
 * cannot report upload progress, XMLHttpRequest can. One refresh and retry after a 401. */
export async function uploadAsset(file: File, onProgress: (fraction: number) => void): Promise<Asset> {
  const send = () =>
    new Promise<XMLHttpRequest>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}/assets`);
      if (accessToken) xhr.setRequestHeader("Authorization", `Bearer ${accessToken}`);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new Problem(0, "", "The upload failed: check your connection and try again."));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  let xhr = await send();
  if (xhr.status === 401 && (await refresh())) xhr = await send();
  const response = new Response(xhr.responseText || null, {
    status: xhr.status,
    headers: { "Content-Type": xhr.getResponseHeader("Content-Type") ?? "application/json" },
  });
  if (!response.ok) throw await toProblem(response);
  return (await response.json()) as Asset;
}
