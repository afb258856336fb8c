// Sharing a project: the owner's Share dialog (members, roles, public links), the
// activity feed with scene comments every member sees, and the public player page.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  type Activity, type Comment, type Invitation, type Member, type Page, Problem, type Project,
  type Render, type Role, type SharedRender, type ShareLink, json,
} from "../api";
import { ErrorBanner, useTitle } from "../components";
import { seconds, when } from "../format";
import { subscribe } from "../live";

const EXPIRIES = { never: null, "1 day": 86_400, "7 days": 7 * 86_400, "30 days": 30 * 86_400 } as const;

const ACTION_LABEL: Record<string, string> = {
  shared: "invited",
  joined: "joined the project",
  declined: "declined the invitation",
  role_changed: "changed a role",
  revoked: "removed",
  project_edited: "edited the project",
  storyboard_edited: "edited the storyboard",
  storyboard_cleared: "cleared the storyboard",
  render_submitted: "started a render",
  render_succeeded: "A render finished",
  render_failed: "A render failed",
  render_canceled: "A render was canceled",
  commented: "commented on scene",
  link_created: "created a public link",
  link_revoked: "revoked a public link",
};

function describe(entry: Activity): string {
  const label = ACTION_LABEL[entry.action] ?? entry.action;
  const d = entry.detail;
  const extra =
    entry.action === "commented" ? ` ${Number(d.scene) + 1}`
    : d.email ? ` ${d.email}${d.role ? ` (${d.role})` : ""}`
    : d.role ? ` as ${d.role}` : "";
  return entry.actor ? `${entry.actor} ${label}${extra}` : `${label}${extra}`;
}

export function RoleBadge({ role }: { role: Role }) {
  return <span class={`status role-${role}`}>Shared · {role}</span>;
}

/** The owner's dialog: invite by email with a role, change or revoke roles, public links. */
export function ShareDialog({ project, onClose }: { project: Project; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [links, setLinks] = useState<ShareLink[]>([]);
  const [renders, setRenders] = useState<Render[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [renderId, setRenderId] = useState("");
  const [expiry, setExpiry] = useState<keyof typeof EXPIRIES>("never");
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const base = `/projects/${project.id}`;

  const reload = async () => {
    setMembers(await json<Member[]>(`${base}/members`));
    setLinks(await json<ShareLink[]>(`${base}/links`));
  };
  const attempt = async (action: () => Promise<unknown>) => {
    setProblem(null);
    try {
      await action();
      await reload();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Something went wrong.");
    }
  };

  useEffect(() => {
    dialog.current?.showModal();
    void attempt(async () => {
      const page = await json<Page<Render>>(`/renders?project_id=${project.id}&status=succeeded&limit=50`);
      setRenders(page.items);
      setRenderId(page.items[0]?.id ?? "");
    });
  }, []);

  const invite = (event: Event) => {
    event.preventDefault();
    void attempt(async () => {
      await json(`${base}/members`, { method: "POST", body: { email, role } });
      setEmail("");
    });
  };
  const createLink = () =>
    attempt(async () => {
      const link = await json<ShareLink>(`${base}/links`, {
        method: "POST", body: { render_id: renderId, expires_in_s: EXPIRIES[expiry] },
      });
      setCreated(`${location.origin}${link.url}`);
      setCopied(false);
    });
  const copy = async () => {
    if (!created) return;
    await navigator.clipboard?.writeText(created).catch(() => undefined);
    setCopied(true);
  };

  return (
    <dialog ref={dialog} class="share-dialog card" aria-labelledby="share-title" onClose={onClose}>
      <div class="page-head">
        <h2 id="share-title">Share “{project.name}”</h2>
        <button type="button" class="button ghost small" aria-label="Close" onClick={() => dialog.current?.close()}>×</button>
      </div>
      <ErrorBanner problem={problem} />
      <form class="invite" onSubmit={invite}>
        <label class="stack"><span>Invite by email</span>
          <input type="email" required value={email} placeholder="name@example.org" onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label class="stack"><span>Role</span>
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            <option value="viewer">Viewer: watch and download</option>
            <option value="editor">Editor: edit and render</option>
          </select>
        </label>
        <button type="submit" class="button primary">Invite</button>
      </form>
      <h3>People</h3>
      {members.length === 0 ? <p class="muted">Only you, for now.</p> : (
        <ul class="members" aria-label="Members">
          {members.map((member) => (
            <li key={member.id}>
              <span class="who">{member.email}{member.status === "invited" && <span class="muted"> (invited)</span>}</span>
              <select aria-label={`Role of ${member.email}`} value={member.role}
                onChange={(e) => attempt(() => json(`${base}/members/${member.id}`, { method: "PATCH", body: { role: e.currentTarget.value } }))}>
                <option value="viewer">Viewer</option>
                <option value="editor">Editor</option>
              </select>
              <button type="button" class="button danger small" aria-label={`Remove ${member.email}`}
                onClick={() => attempt(() => json(`${base}/members/${member.id}`, { method: "DELETE" }))}>Remove</button>
            </li>
          ))}
        </ul>
      )}
      <h3>Public link</h3>
      {renders.length === 0 ? <p class="muted">Render the project first: a public link plays a finished video.</p> : (
        <div class="link-form">
          <label class="stack"><span>Video</span>
            <select value={renderId} onChange={(e) => setRenderId(e.currentTarget.value)}>
              {renders.map((r) => <option value={r.id}>Render of {when(r.finished_at)}</option>)}
            </select>
          </label>
          <label class="stack"><span>Expires</span>
            <select value={expiry} onChange={(e) => setExpiry(e.currentTarget.value as keyof typeof EXPIRIES)}>
              {Object.keys(EXPIRIES).map((label) => <option value={label}>{label}</option>)}
            </select>
          </label>
          <button type="button" class="button" onClick={createLink}>Create link</button>
        </div>
      )}
      {created && (
        <div class="with-button created-link">
          <input readOnly value={created} aria-label="Public link" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" class="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
        </div>
      )}
      {links.length > 0 && (
        <ul class="links" aria-label="Public links">
          {links.map((link) => (
            <li key={link.id}>
              <span>Link made {when(link.created_at)}{link.revoked_at ? " · revoked" : link.expires_at ? ` · expires ${when(link.expires_at)}` : ""}</span>
              {!link.revoked_at && (
                <button type="button" class="button danger small" onClick={() => attempt(() => json(`${base}/links/${link.id}`, { method: "DELETE" }))}>Revoke</button>
              )}
            </li>
          ))}
        </ul>
      )}
    </dialog>
  );
}

/** Who did what, and the comments on scenes: every member reads and comments. */
export function ActivityPanel({ projectId, scenes }: { projectId: string; scenes: number }) {
  const [feed, setFeed] = useState<Activity[]>([]);
  const [comments, setComments] = useState<Comment[]>([]);
  const [scene, setScene] = useState(0);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<Problem | string | null>(null);
  const base = `/projects/${projectId}`;
  const reload = async () => {
    setFeed(await json<Activity[]>(`${base}/activity?limit=30`));
    setComments(await json<Comment[]>(`${base}/comments`));
  };
  useEffect(() => void reload().catch(() => undefined), [projectId]);

  const post = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    try {
      await json(`${base}/comments`, { method: "POST", body: { scene, body: text } });
      setText("");
      await reload();
    } catch (error) {
      setProblem(error instanceof Problem ? error : "Cannot post the comment.");
    }
  };

  return (
    <section class="card activity" aria-labelledby="activity-title">
      <h2 id="activity-title">Comments and activity</h2>
      <ul class="comments" aria-label="Comments">
        {comments.map((c) => (
          <li key={c.id}><strong>{c.author ?? "Someone"}</strong> on scene {c.scene + 1}: {c.body} <span class="muted">{when(c.created_at)}</span></li>
        ))}
      </ul>
      <ErrorBanner problem={problem} />
      <form onSubmit={post} class="comment-form">
        <label class="stack"><span>Scene</span>
          <select value={scene} onChange={(e) => setScene(Number(e.currentTarget.value))}>
            {Array.from({ length: Math.max(scenes, 1) }, (_, i) => <option value={i}>Scene {i + 1}</option>)}
          </select>
        </label>
        <label class="stack"><span>Comment</span>
          <textarea rows={2} required maxLength={5000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" class="button">Post comment</button>
      </form>
      <h3>Activity</h3>
      <ol class="feed" aria-label="Activity">
        {feed.map((entry, i) => <li key={i}>{describe(entry)} <span class="muted">{when(entry.at)}</span></li>)}
      </ol>
    </section>
  );
}

/** The dashboard's invitations: accept (the project joins the list) or decline. */
export function Invitations({ onAccepted }: { onAccepted: () => void }) {
  const [invites, setInvites] = useState<Invitation[]>([]);
  const reload = () => json<Invitation[]>("/invitations").then(setInvites).catch(() => undefined);
  useEffect(() => {
    void reload();
    return subscribe((event) => {
      if (event.type === "invited") void reload();
    });
  }, []);
  if (invites.length === 0) return null;
  const answer = async (invite: Invitation, accept: boolean) => {
    await json(`/invitations/${invite.id}/${accept ? "accept" : "decline"}`, { method: "POST" }).catch(() => undefined);
    await reload();
    if (accept) onAccepted();
  };
  return (
    <section class="card invitations" aria-labelledby="invites-title">
      <h2 id="invites-title">Invitations</h2>
      <ul>
        {invites.map((invite) => (
          <li key={invite.id}>
            <span><strong>{invite.invited_by}</strong> shared “{invite.project_name}” with you as {invite.role}.</span>
            <button type="button" class="button primary small" onClick={() => answer(invite, true)}>Accept</button>
            <button type="button" class="button small" onClick={() => answer(invite, false)}>Decline</button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** `/s/<token>`: a finished video anyone with the link may watch, no sign-in. */
export function SharedPlayer({ token }: { token: string }) {
  const [shared, setShared] = useState<SharedRender | null>(null);
  const [gone, setGone] = useState(false);
  useTitle(shared ? shared.title : "Shared video");
  useEffect(() => {
    json<SharedRender>(`/public/${encodeURIComponent(token)}`).then(setShared).catch(() => setGone(true));
  }, [token]);
  if (gone) {
    return (
      <section class="narrow">
        <h1>This link does not work</h1>
        <p>It was revoked, it expired, or it never existed. Ask whoever sent it for a new one.</p>
      </section>
    );
  }
  if (!shared) return <p class="muted" aria-busy="true">Loading…</p>;
  return (
    <section class="shared-player" aria-labelledby="shared-title">
      <h1 id="shared-title">{shared.title}</h1>
      <div class="player">
        <video controls preload="metadata" src={shared.links.video} poster={shared.links.thumbnail}>
          <track kind="captions" src={shared.links.vtt} srclang="en" label="Captions" default />
        </video>
      </div>
      <p class="muted">{seconds(shared.duration_s)} · made with reelforge</p>
    </section>
  );
}
