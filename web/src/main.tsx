import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./styles.css";
import { type Me, json, onSessionExpired, refresh, signOut } from "./api";
import { type LiveEvent, startLive, stopLive, subscribe } from "./live";
import { match, navigate, onLink, useLocation } from "./router";
import { NotFoundPage, Toasts, setNotice, type Session, type Toast } from "./components";
import { SignIn, SignUp } from "./pages/auth";
import { Dashboard } from "./pages/dashboard";
import { NewProject } from "./pages/create";
import { RenderView } from "./pages/render";
import { Editor } from "./pages/editor";
import { Library } from "./pages/library";
import { Templates } from "./pages/templates";
import { SharedPlayer } from "./pages/share";
import { AnalyticsPage } from "./pages/analytics";
import { BatchView, Batches } from "./pages/batch";
import { Webhooks } from "./pages/webhooks";



function App() {
  const url = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [unread, setUnread] = useState(0);

  const reloadMe = async () => setMe(await json<Me>("/users/me"));

  useEffect(() => {
    (async () => {
      if (await refresh()) {
        try {
          await reloadMe();
          return;
        } catch {
          /* fall through to signed out */
        }
      }
      setMe(null);
    })();
    return onSessionExpired(() => {
      setNotice("Your session has ended. Sign in again to continue.");
      setMe(null);
      stopLive();
      // Several requests of one page may find the session gone: the first one sends the user
      // to sign in, the others must not replace where they were going with the sign-in page.
      if (location.pathname === "/signin") return;
      navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true);
    });
  }, []);

  useEffect(() => {
    if (!me) return;
    startLive();
    return subscribe((event: LiveEvent, replayed: boolean) => {
      if (event.type === "access_revoked") {
        // The owner stopped sharing: leave the project if it is open.
        if (!replayed && location.pathname === `/projects/${String(event.data.project_id)}`) {
          setNotice("");
          navigate("/", true);
        }
        return;
      }
      if (replayed || !["succeeded", "failed"].includes(event.type) || !event.render_id) return;
      const ok = event.type === "succeeded";
      const text = ok ? "Your video is ready." : "A render failed: open it to see why.";
      const toast: Toast = { id: event.id, ok, text, href: `/renders/${event.render_id}` };
      setToasts((all) => [...all.slice(-3), toast]);
      setUnread((n) => n + 1);
      window.setTimeout(() => setToasts((all) => all.filter((t) => t.id !== toast.id)), 8000);
      if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
        new Notification("reelforge", { body: text });
      }
    });
  }, [me?.id]);

  if (me === undefined) return <main id="main" class="page" aria-busy="true" />;

  const path = url.pathname;
  const shared = match("/s/:token", path);
  const publicPage = path === "/signin" || path === "/signup";
  if (!me && !publicPage && !shared) {
    queueMicrotask(() => navigate(`/signin?next=${encodeURIComponent(path + url.search)}`, true));
    return null;
  }
  if (me && publicPage) {
    queueMicrotask(() => navigate(url.searchParams.get("next") || "/", true));
    return null;
  }

  const session: Session | null = me ? { me, reloadMe } : null;
  let page;
  let params: Record<string, string> | null;
  if (shared) page = <SharedPlayer token={shared.token} />;
  else if (path === "/signin") page = <SignIn onSignedIn={reloadMe} />;
  else if (path === "/signup") page = <SignUp onSignedIn={reloadMe} />;
  else if (path === "/" && session) page = <Dashboard session={session} />;
  else if (path === "/new" && session) page = <NewProject session={session} />;
  else if (path === "/library" && session) page = <Library session={session} />;
  else if (path === "/templates" && session) page = <Templates />;
  else if (path === "/admin/analytics" && me?.is_admin) page = <AnalyticsPage />;
  else if (path === "/batches" && session) page = <Batches session={session} />;
  else if (path === "/webhooks" && session) page = <Webhooks />;
  else if ((params = match("/batches/:id", path))) page = <BatchView key={params.id} id={params.id} />;
  else if ((params = match("/renders/:id", path))) page = <RenderView key={params.id} id={params.id} />;
  else if ((params = match("/projects/:id", path))) page = <Editor key={params.id} id={params.id} />;
  else page = <NotFoundPage />;

  const out = async () => {
    await signOut().catch(() => undefined);
    stopLive();
    setMe(null);
    navigate("/signin", true);
  };

  return (
    <div class="shell" onClick={onLink}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/">
          <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path fill="currentColor" d="M4 5h12a2 2 0 0 1 2 2v2.5l3-2v9l-3-2V17a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2Z" /></svg>
          reelforge
        </a>
        {me && (
          <nav aria-label="Main" class="nav">
            <a href="/" aria-current={path === "/" ? "page" : undefined}>Projects</a>
            <a href="/library" aria-current={path === "/library" ? "page" : undefined}>Library</a>
            <a href="/templates" aria-current={path === "/templates" ? "page" : undefined}>Templates</a>
            <a href="/batches" aria-current={path.startsWith("/batches") ? "page" : undefined}>Batches</a>
            <a href="/webhooks" aria-current={path === "/webhooks" ? "page" : undefined}>Webhooks</a>
            {me.is_admin && <a href="/admin/analytics" aria-current={path === "/admin/analytics" ? "page" : undefined}>Analytics</a>}
            <a href="/new" class="button primary small">New project</a>
            <NotifyBell unread={unread} onSeen={() => setUnread(0)} />
            <button type="button" class="button ghost small" onClick={out}>Sign out</button>
          </nav>
        )}
      </header>
      <main id="main" class="page" tabIndex={-1}>{page}</main>
      <Toasts toasts={toasts} onClose={(id) => setToasts((all) => all.filter((t) => t.id !== id))} />
    </div>
  );
}

function NotifyBell({ unread, onSeen }: { unread: number; onSeen: () => void }) {
  const [permission, setPermission] = useState(() => ("Notification" in window ? Notification.permission : "denied"));
  const label = unread ? `Notifications: ${unread} new` : "Notifications";
  const click = async () => {
    onSeen();
    if (permission === "default") setPermission(await Notification.requestPermission());
  };
  return (
    <button type="button" class="button ghost small bell" aria-label={label} title={permission === "default" ? "Allow browser notifications" : label} onClick={click}>
      <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z" /></svg>
      {unread > 0 && <span class="badge-count" aria-hidden="true">{unread}</span>}
    </button>
  );
}

render(<App />, document.getElementById("app")!);
