import { useRef, useState } from "preact/hooks";
import { Problem, register, signIn } from "../api";
import { Field, describedBy, takeNotice, useTitle } from "../components";
import { navigate } from "../router";

type Errors = Partial<Record<"email" | "password" | "name" | "form", string>>;

/** Which field a problem is about: the API names it, or its status and wording tell. */
function errorsFrom(problem: unknown): Errors {
  if (!(problem instanceof Problem)) return { form: "Cannot reach the server. Check your connection and try again." };
  if (problem.status === 429) {
    const wait = problem.retryAfter ? ` Try again in ${problem.retryAfter} s.` : "";
    return { form: `Too many attempts.${wait}` };
  }
  if (problem.status === 409) return { email: "An account with this email already exists. Sign in instead." };
  if (problem.status === 401) return { form: problem.detail.charAt(0).toUpperCase() + problem.detail.slice(1) + "." };
  const field = problem.field?.split(".").pop();
  if (field === "email" || field === "password" || field === "name") return { [field]: problem.detail.replace(/^[a-z.]+: /, "") };
  if (/password/i.test(problem.detail)) return { password: problem.detail };
  if (/email/i.test(problem.detail)) return { email: problem.detail };
  return { form: problem.detail };
}

function AuthForm({ mode, onSignedIn }: { mode: "signin" | "signup"; onSignedIn: () => Promise<void> }) {
  const signup = mode === "signup";
  useTitle(signup ? "Create account" : "Sign in");
  const [notice] = useState(takeNotice);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(form.current!);
    const email = String(data.get("email") ?? "").trim();
    const password = String(data.get("password") ?? "");
    const found: Errors = {};
    if (!email) found.email = "Enter your email address.";
    if (!password) found.password = "Enter your password.";
    if (signup && password && password.length < 10) found.password = "Use at least 10 characters.";
    setErrors(found);
    if (Object.keys(found).length) {
      form.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
      return;
    }
    // Read before signing in: once signed in, the app itself may already have moved on to it.
    const next = new URL(location.href).searchParams.get("next");
    setBusy(true);
    try {
      if (signup) await register(email, password, String(data.get("name") ?? ""));
      await signIn(email, password);
      await onSignedIn();
      navigate(next && next.startsWith("/") ? next : "/", true);
    } catch (problem) {
      setErrors(errorsFrom(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="auth card">
      <h1>{signup ? "Create your account" : "Sign in to reelforge"}</h1>
      {notice && <div class="banner info" role="status">{notice}</div>}
      <form ref={form} onSubmit={submit} noValidate>
        {signup && (
          <Field id="name" label="Name (optional)" error={errors.name}>
            <input id="name" name="name" autocomplete="name" aria-invalid={!!errors.name} aria-describedby={describedBy("name", errors.name)} />
          </Field>
        )}
        <Field id="email" label="Email" error={errors.email}>
          <input id="email" name="email" type="email" autocomplete="email" required aria-invalid={!!errors.email} aria-describedby={describedBy("email", errors.email)} />
        </Field>
        <Field id="password" label="Password" error={errors.password} hint={signup ? "At least 10 characters; not a common password and not your email." : undefined}>
          <input id="password" name="password" type="password" autocomplete={signup ? "new-password" : "current-password"} required aria-invalid={!!errors.password} aria-describedby={describedBy("password", errors.password, signup)} />
        </Field>
        {errors.form && <div class="banner bad" role="alert">{errors.form}</div>}
        <button class="button primary wide" type="submit" disabled={busy}>{signup ? "Create account" : "Sign in"}</button>
      </form>
      <p class="switch">
        {signup ? <>Already have an account? <a href="/signin">Sign in</a></> : <>New here? <a href="/signup">Create an account</a></>}
      </p>
    </section>
  );
}

export const SignIn = ({ onSignedIn }: { onSignedIn: () => Promise<void> }) => <AuthForm mode="signin" onSignedIn={onSignedIn} />;
export const SignUp = ({ onSignedIn }: { onSignedIn: () => Promise<void> }) => <AuthForm mode="signup" onSignedIn={onSignedIn} />;
