import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { Problem } from "./api";
import { STATUS_LABEL } from "./format";

export interface Session {
  me: import("./api").Me;
  reloadMe: () => Promise<void>;
}

let notice = "";
export function setNotice(message: string): void {
  notice = message;
}
/** A message for the sign-in page (why the user landed there), shown once. */
export function takeNotice(): string {
  const message = notice;
  notice = "";
  return message;
}

export interface Toast {
  id: number;
  ok: boolean;
  text: string;
  href: string;
}

export function Toasts({ toasts, onClose }: { toasts: Toast[]; onClose: (id: number) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((toast) => (
        <div key={toast.id} class={`toast ${toast.ok ? "ok" : "bad"}`}>
          <a href={toast.href}>{toast.text}</a>
          <button type="button" class="button ghost small" aria-label="Dismiss" onClick={() => onClose(toast.id)}>×</button>
        </div>
      ))}
    </div>
  );
}

interface FieldProps {
  id: string;
  label: string;
  error?: string | null;
  hint?: ComponentChildren;
  children: ComponentChildren;
}

/** A label, the control, a hint and an inline error tied to it with aria-describedby. */
export function Field({ id, label, error, hint, children }: FieldProps) {
  return (
    <div class={`field${error ? " invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && <div class="hint" id={`${id}-hint`}>{hint}</div>}
      {error && <div class="error" id={`${id}-error`} role="alert">{error}</div>}
    </div>
  );
}

export function describedBy(id: string, error?: string | null, hint?: boolean): string | undefined {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return ids || undefined;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{STATUS_LABEL[status] ?? status}</span>;
}

export function ErrorBanner({ problem }: { problem: Problem | string | null }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [problem]);
  if (!problem) return null;
  return (
    <div class="banner bad" role="alert" tabIndex={-1} ref={ref}>
      {typeof problem === "string" ? problem : problem.detail}
    </div>
  );
}

export function NotFoundPage() {
  return (
    <section class="narrow">
      <h1>Not found</h1>
      <p>There is nothing here, or it belongs to someone else.</p>
      <p><a href="/">Back to your projects</a></p>
    </section>
  );
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · reelforge`;
  }, [title]);
}
