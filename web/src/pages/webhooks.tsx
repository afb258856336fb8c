import { useEffect, useRef, useState } from "preact/hooks";
import { Problem, type Webhook, type WebhookCreated, type WebhookDelivery, type WebhookEvent, json } from "../api";
import { ErrorBanner, Field, describedBy, useTitle } from "../components";
import { when } from "../format";

const EVENTS: { value: WebhookEvent; label: string }[] = [
  { value: "render.succeeded", label: "A render succeeded" },
  { value: "render.failed", label: "A render failed" },
  { value: "render.canceled", label: "A render was canceled" },
  { value: "batch.finished", label: "A batch finished" },
];
const STATE_LABEL: Record<WebhookDelivery["state"], string> = { pending: "Pending", succeeded: "Delivered", failed: "Failed" };
/** How often an open delivery log is read again (the sender works in the background). */
const LOG_POLL_MS = 2000;

/** Webhook endpoints: register one (its signing secret shown once), delete, and read each
 * endpoint's delivery log, where a delivery can be sent again by hand. */
export function Webhooks() {
  useTitle("Webhooks");
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [created, setCreated] = useState<WebhookCreated | null>(null);
  const [rotated, setRotated] = useState(false);
  const [problem, setProblem] = useState<Problem | string | null>(null);

  const load = () => json<Webhook[]>("/webhooks").then(setHooks).catch((error) => setProblem(error instanceof Problem ? error : "Cannot list your webhooks."));
  useEffect(() => void load(), []);

  const setEnabled = async (hook: Webhook, enabled: boolean) => {
    try {
      await json<Webhook>(`/webhooks/${hook.id}`, { method: "PATCH", body: { enabled } });
      await load();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot change this webhook.");
    }
  };

  const rotate = async (hook: Webhook) => {
    try {
      setCreated(await json<WebhookCreated>(`/webhooks/${hook.id}/rotate-secret`, { method: "POST" }));
      setRotated(true);
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot make a new secret.");
    }
  };

  const remove = async (hook: Webhook) => {
    try {
      await json(`/webhooks/${hook.id}`, { method: "DELETE" });
      if (created?.id === hook.id) setCreated(null);
      await load();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot delete this webhook.");
    }
  };

  return (
    <div class="webhooks">
      <div class="page-head"><h1>Webhooks</h1></div>
      <p class="muted">reelforge sends a signed <code>POST</code> to your endpoints when your renders finish, retrying for a day if they do not answer with a 2xx. See <a href="/api/docs#/webhooks" target="_blank" rel="noopener">the API docs</a> to verify the signature.</p>
      <ErrorBanner problem={problem} />
      <NewWebhook onCreated={async (hook) => { setCreated(hook); setRotated(false); await load(); }} />
      {created && <SecretOnce hook={created} rotated={rotated} onDone={() => setCreated(null)} />}
      <h2>Your endpoints</h2>
      {hooks === null ? <p class="muted" aria-busy="true">Loading…</p> : hooks.length === 0 ? <p class="empty">No endpoint yet.</p> : (
        <ul class="hook-list" aria-label="Endpoints">
          {hooks.map((hook) => (
            <HookItem key={hook.id} hook={hook} onDelete={() => remove(hook)} onEnable={(on) => setEnabled(hook, on)} onRotate={() => rotate(hook)} />
          ))}
        </ul>
      )}
    </div>
  );
}

function NewWebhook({ onCreated }: { onCreated: (hook: WebhookCreated) => Promise<void> }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<WebhookEvent[]>(["render.succeeded", "render.failed"]);
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const toggle = (event: WebhookEvent, on: boolean) =>
    setEvents(on ? [...events, event] : events.filter((e) => e !== event));

  const submit = async (e: Event) => {
    e.preventDefault();
    const found: Record<string, string> = {};
    if (!/^https?:\/\/\S+$/i.test(url.trim())) found.url = "Enter an http:// or https:// URL.";
    if (events.length === 0) found.events = "Pick at least one event.";
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const hook = await json<WebhookCreated>("/webhooks", { method: "POST", body: { url: url.trim(), events, description } });
      setUrl("");
      setDescription("");
      await onCreated(hook);
    } catch (error) {
      const p = error instanceof Problem ? error : null;
      const field = p?.field && ["url", "events", "description"].includes(p.field) ? p.field : "form";
      setErrors({ [field]: p ? p.detail : "Cannot reach the server." });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="new-hook-title">
      <h2 id="new-hook-title">New endpoint</h2>
      <form onSubmit={submit} noValidate aria-label="New endpoint">
        <Field id="hook-url" label="Endpoint URL" error={errors.url} hint="Where the POSTs go: a public address of yours.">
          <input id="hook-url" type="url" inputMode="url" value={url} maxLength={2000} placeholder="https://example.com/reelforge" onInput={(e) => setUrl(e.currentTarget.value)} aria-invalid={!!errors.url} aria-describedby={describedBy("hook-url", errors.url, true)} />
        </Field>
        <fieldset class={`field hook-events${errors.events ? " invalid" : ""}`} aria-describedby={errors.events ? "hook-events-error" : undefined}>
          <legend>Events</legend>
          {EVENTS.map((event) => (
            <label class="check" key={event.value}>
              <input type="checkbox" checked={events.includes(event.value)} onChange={(e) => toggle(event.value, e.currentTarget.checked)} />
              {event.label} <code>{event.value}</code>
            </label>
          ))}
          {errors.events && <div class="error" id="hook-events-error" role="alert">{errors.events}</div>}
        </fieldset>
        <Field id="hook-description" label="Description (optional)" error={errors.description}>
          <input id="hook-description" value={description} maxLength={300} onInput={(e) => setDescription(e.currentTarget.value)} aria-describedby={describedBy("hook-description", errors.description)} />
        </Field>
        {errors.form && <div class="banner bad" role="alert">{errors.form}</div>}
        <button type="submit" class="button primary" disabled={busy}>{busy ? "Adding…" : "Add endpoint"}</button>
      </form>
    </section>
  );
}

/** The signing secret of a new endpoint: the only time it is shown. */
function SecretOnce({ hook, rotated, onDone }: { hook: WebhookCreated; rotated: boolean; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const box = useRef<HTMLElement>(null);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => box.current?.focus(), [hook.id]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(hook.secret);
      setCopied(true);
    } catch {
      field.current?.select(); // no clipboard access (an insecure origin): the user copies it
      setCopied(false);
    }
  };
  return (
    <section class="card secret-once" aria-labelledby="secret-title" tabIndex={-1} ref={box}>
      <h2 id="secret-title">Signing secret</h2>
      <p>Copy the secret of <span class="hook-url">{hook.url}</span> now: it is shown this once. Your endpoint uses it to check that a request comes from reelforge.{rotated ? " The previous secret no longer signs anything." : ""}</p>
      <div class="with-button">
        <input readOnly ref={field} value={hook.secret} aria-label="Signing secret" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      </div>
      <p role="status" class="muted">{copied === true ? "The secret is on your clipboard." : copied === false ? "Copying is not allowed here: the secret is selected, press Ctrl+C (⌘C) to copy it." : ""}</p>
      <button type="button" class="button small" onClick={onDone}>I have saved it</button>
    </section>
  );
}

interface HookItemProps {
  hook: Webhook;
  onDelete: () => void;
  onEnable: (enabled: boolean) => void;
  onRotate: () => void;
}

function HookItem({ hook, onDelete, onEnable, onRotate }: HookItemProps) {
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const logId = `log-${hook.id}`;
  return (
    <li class="card hook">
      <div class="hook-head">
        <div>
          <div class="hook-url">{hook.url}</div>
          <div class="muted">{hook.events.join(", ")}{hook.description ? ` · ${hook.description}` : ""}{hook.enabled ? "" : " · paused: nothing is sent"} · added {when(hook.created_at)}</div>
        </div>
        <div class="actions">
          <button type="button" class="button small" aria-expanded={open} aria-controls={logId} onClick={() => setOpen(!open)}>{open ? "Hide deliveries" : "Delivery log"}</button>
          <button type="button" class="button ghost small" onClick={() => onEnable(!hook.enabled)} aria-label={`${hook.enabled ? "Pause" : "Resume"} ${hook.url}`}>{hook.enabled ? "Pause" : "Resume"}</button>
          <button type="button" class="button ghost small" onClick={onRotate} aria-label={`New secret for ${hook.url}`}>New secret</button>
          {confirming ? (
            <>
              <button type="button" class="button danger small" onClick={onDelete}>Delete this endpoint</button>
              <button type="button" class="button ghost small" onClick={() => setConfirming(false)}>Keep it</button>
            </>
          ) : (
            <button type="button" class="button ghost small" onClick={() => setConfirming(true)} aria-label={`Delete ${hook.url}`}>Delete</button>
          )}
        </div>
      </div>
      {open && <DeliveryLog id={logId} hook={hook} />}
    </li>
  );
}

function lastAnswer(delivery: WebhookDelivery): string {
  const last = delivery.attempts[delivery.attempts.length - 1];
  if (!last) return "—";
  if (last.status_code !== null) return String(last.status_code);
  return last.error ?? "no answer";
}

/** An endpoint's deliveries, newest first, read again every few seconds while open. */
function DeliveryLog({ id, hook }: { id: string; hook: Webhook }) {
  const [deliveries, setDeliveries] = useState<WebhookDelivery[] | null>(null);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const [said, setSaid] = useState("");

  const load = () =>
    json<WebhookDelivery[]>(`/webhooks/${hook.id}/deliveries?limit=50`)
      .then((found) => { setDeliveries(found); setProblem(null); })
      .catch((error) => setProblem(error instanceof Problem ? error : "Cannot read the delivery log."));
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), LOG_POLL_MS);
    return () => window.clearInterval(timer);
  }, [hook.id]);

  const redeliver = async (delivery: WebhookDelivery) => {
    try {
      await json(`/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      setSaid(`The ${delivery.event_type} delivery is being sent again.`);
      await load();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot send this delivery again.");
    }
  };

  return (
    <div id={id} class="delivery-log">
      <ErrorBanner problem={problem} />
      <p role="status" class="muted">{said}</p>
      {deliveries === null ? <p class="muted" aria-busy="true">Loading…</p> : deliveries.length === 0 ? <p class="muted">Nothing sent yet: deliveries appear here as your renders finish.</p> : (
        <div class="table-scroll"><table class="rows" aria-label={`Deliveries to ${hook.url}`}>
          <thead><tr><th scope="col">Event</th><th scope="col">Made</th><th scope="col">Status</th><th scope="col">Response</th><th scope="col">Attempts</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {deliveries.map((delivery) => (
              <tr key={delivery.id} data-delivery={delivery.id}>
                <td><code>{delivery.event_type}</code></td>
                <td>{when(delivery.created_at)}</td>
                <td class={`delivery-${delivery.state}`}>{STATE_LABEL[delivery.state]}{delivery.state === "pending" && delivery.attempts.length > 0 && delivery.next_attempt_at ? `, next try ${new Date(delivery.next_attempt_at).toLocaleTimeString()}` : ""}</td>
                <td class="response">{lastAnswer(delivery)}</td>
                <td>
                  {delivery.attempts.length === 0 ? "0" : (
                    <details>
                      <summary>{delivery.attempts.length}</summary>
                      <ol class="attempts">
                        {delivery.attempts.map((a) => (
                          <li>{new Date(a.attempted_at).toLocaleString()}: {a.status_code ?? "no answer"} in {a.duration_ms} ms{a.error ? ` (${a.error})` : ""}{a.response_excerpt ? <pre>{a.response_excerpt}</pre> : null}</li>
                        ))}
                      </ol>
                    </details>
                  )}
                </td>
                <td><button type="button" class="button small" onClick={() => redeliver(delivery)} aria-label={`Redeliver the ${delivery.event_type} delivery made ${when(delivery.created_at)}`}>Redeliver</button></td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
    </div>
  );
}
