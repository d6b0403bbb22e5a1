// The console's shell: sign-in, the project and region switcher, navigation between the
// services' pages (hash routes, so the binary serves one index.html).

import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { listProjects, loadSession, saveSession, signIn, switchProject, type Project, type Session } from "./api";
import { Alert, Field, SessionContext, errorField, type FieldError } from "./ui";
import { Dashboard } from "./pages/dashboard";
import { Servers } from "./pages/servers";
import { Images } from "./pages/images";
import { Volumes } from "./pages/volumes";
import { Buckets } from "./pages/buckets";
import { Cbr } from "./pages/cbr";
import { Access } from "./pages/access";
import { Networks } from "./pages/networks";
import { Traces } from "./pages/traces";
import { Billing } from "./pages/billing";
import { Support } from "./pages/support";
import "./style.css";

const ROUTES: { path: string; title: string; page: () => React.ReactElement }[] = [
  { path: "dashboard", title: "Dashboard", page: () => <Dashboard /> },
  { path: "servers", title: "Servers", page: () => <Servers /> },
  { path: "images", title: "Images", page: () => <Images /> },
  { path: "volumes", title: "Volumes", page: () => <Volumes /> },
  { path: "cbr", title: "Backup vaults", page: () => <Cbr /> },
  { path: "buckets", title: "Buckets", page: () => <Buckets /> },
  { path: "networks", title: "Networks", page: () => <Networks /> },
  { path: "traces", title: "Cloud Trace", page: () => <Traces /> },
  { path: "access", title: "Access keys", page: () => <Access /> },
  { path: "billing", title: "Billing", page: () => <Billing /> },
  { path: "support", title: "Support", page: () => <Support /> },
];

/** The page's route (`servers` of `#/servers/ID`) and the whole hash (a page is mounted
 *  afresh, its data loaded again, whenever the hash changes). */
function useRoute(): [string, string] {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const f = () => setHash(window.location.hash);
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  return [hash.replace(/^#\/?/, "").split("/")[0] || "dashboard", hash];
}

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [domain, setDomain] = useState("Default");
  const [error, setError] = useState<FieldError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signIn(user, password, domain));
    } catch (err) {
      setError(errorField(err, { domain: ["domain"] }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Nimbus</h1>
        <Field label="User name" name="user" error={error}>
          {(id) => <input id={id} autoComplete="username" required value={user} onChange={(e) => setUser(e.target.value)} />}
        </Field>
        <Field label="Password" name="password" error={error}>
          {(id) => (
            <input id={id} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <Field label="Account (domain)" name="domain" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} required value={domain} onChange={(e) => setDomain(e.target.value)} />}
        </Field>
        {error && !error.field && <Alert>{error.message}</Alert>}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in..." : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function ProjectSwitcher(props: { session: Session; onSwitch: (s: Session) => void }) {
  const [projects, setProjects] = useState<Project[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    listProjects(props.session).then(setProjects, (e) => setError(e.message));
  }, [props.session.userId]);
  return (
    <div className="switcher">
      <label htmlFor="project-switch">Project</label>
      <select
        id="project-switch"
        value={props.session.projectId}
        onChange={async (e) => {
          try {
            props.onSwitch(await switchProject(props.session, e.target.value));
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      >
        {projects.length === 0 && <option value={props.session.projectId}>{props.session.projectName || "(none)"}</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      <label htmlFor="region-switch">Region</label>
      <select id="region-switch" value={props.session.region} onChange={() => undefined}>
        <option value={props.session.region}>{props.session.region || "this region"}</option>
      </select>
      {error && <span role="alert" className="field-error">{error}</span>}
    </div>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession());
  const [navOpen, setNavOpen] = useState(false);
  const [route, hash] = useRoute();
  useEffect(() => {
    const out = () => setSession(null);
    window.addEventListener("nimbus-signed-out", out);
    return () => window.removeEventListener("nimbus-signed-out", out);
  }, []);
  const set = (s: Session | null) => {
    saveSession(s);
    setSession(s);
  };
  if (!session) return <SignIn onSignedIn={set} />;
  const current = ROUTES.find((r) => r.path === route) ?? ROUTES[0];
  return (
    <SessionContext.Provider value={session}>
      {/* Not a plain #main link: the hash is the console's route. */}
      <a
        className="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="menu" aria-expanded={navOpen} aria-controls="nav" onClick={() => setNavOpen(!navOpen)}>
          Menu
        </button>
        <span className="brand">Nimbus</span>
        <ProjectSwitcher session={session} onSwitch={set} />
        <span className="who">
          {session.userName} ({session.domainName})
        </span>
        <button type="button" className="link" onClick={() => set(null)}>
          Sign out
        </button>
      </header>
      <div className="body">
        <nav id="nav" aria-label="Services" className={navOpen ? "open" : ""}>
          <ul>
            {ROUTES.map((r) => (
              <li key={r.path}>
                <a href={`#/${r.path}`} aria-current={r === current ? "page" : undefined} onClick={() => setNavOpen(false)}>
                  {r.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {session.projectId ? (
            <div key={`${hash}-${session.projectId}`}>{current.page()}</div>
          ) : (
            <Alert>You have no role on any project yet: ask your account's administrator for one.</Alert>
          )}
        </main>
      </div>
    </SessionContext.Provider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
