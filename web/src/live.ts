// Live events: one WebSocket per tab to /api/v1/ws. It resumes with `after=` the last id
// it saw, so a dropped connection misses nothing; a 4401 close refreshes the token first.
import { API, refresh, token } from "./api";

export interface LiveEvent {
  id: number;
  type: string;
  render_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

type Listener = (event: LiveEvent, replayed: boolean) => void;
type StateListener = (connected: boolean) => void;

const listeners = new Set<Listener>();
const stateListeners = new Set<StateListener>();
let socket: WebSocket | null = null;
let lastId = -1;
let liveFrom = 0;
let retryMs = 500;
let timer: number | undefined;
let stopped = true;

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function onConnection(listener: StateListener): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

export function lastEventId(): number {
  return lastId;
}

/** For tests and the "reconnect" path: drop the socket as a network failure would. */
export function dropConnection(): void {
  socket?.close(4000, "dropped");
}

async function open(): Promise<void> {
  if (stopped) return;
  if (lastId < 0) {
    // Start from now: older events are history, not news.
    try {
      const response = await fetch(`${API}/events/latest`, { headers: { Authorization: `Bearer ${token()}` } });
      if (response.status === 401 && (await refresh())) return open();
      lastId = response.ok ? ((await response.json()) as { id: number }).id : 0;
      liveFrom = lastId;
    } catch {
      schedule();
      return;
    }
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}${API}/ws?token=${encodeURIComponent(token() ?? "")}&after=${lastId}`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    retryMs = 500;
    stateListeners.forEach((listener) => listener(true));
  };
  ws.onmessage = (message) => {
    const event = JSON.parse(String(message.data)) as LiveEvent;
    if (event.type === "keepalive" || typeof event.id !== "number") return;
    if (event.id <= lastId) return;
    lastId = event.id;
    listeners.forEach((listener) => listener(event, event.id <= liveFrom));
  };
  ws.onclose = async (close) => {
    if (socket !== ws) return;
    socket = null;
    stateListeners.forEach((listener) => listener(false));
    if (stopped) return;
    if (close.code === 4401 && !(await refresh())) return;
    schedule();
  };
}

function schedule(): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(() => void open(), retryMs);
  retryMs = Math.min(retryMs * 2, 10_000);
}

export function startLive(): void {
  if (!stopped) return;
  stopped = false;
  void open();
}

export function stopLive(): void {
  stopped = true;
  window.clearTimeout(timer);
  const ws = socket;
  socket = null;
  ws?.close(1000, "signed out");
  lastId = -1;
}

// A hook for operators and the browser tests: drop the socket as a network failure would.
(window as unknown as { reelforgeLive: object }).reelforgeLive = { drop: dropConnection, lastEventId };
