// The console's only way to the region: the same public APIs the CLIs use, on the same origin,
// with the Keystone token of the signed-in user. No console-only back end.

export interface Session {
  token: string;
  expiresAt: string;
  userId: string;
  userName: string;
  domainId: string;
  domainName: string;
  projectId: string;
  projectName: string;
  region: string;
  roles: string[];
}

export interface Project {
  id: string;
  name: string;
  domain_id: string;
}

const KEY = "nimbus.session";

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  const s = JSON.parse(raw) as Session;
  return new Date(s.expiresAt).getTime() > Date.now() ? s : null;
}

export function saveSession(s: Session | null) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

/** An error answered by the API, with the message as the API worded it. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The message of an error body, in any of the API families' formats (OpenStack, Keystone,
 *  Neutron, Huawei `error_msg`, S3-like `message`). */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.error_msg === "string") return b.error_msg;
    if (typeof b.message === "string") return b.message;
    for (const v of Object.values(b)) {
      if (v && typeof v === "object" && typeof (v as Record<string, unknown>).message === "string") {
        return (v as Record<string, string>).message;
      }
    }
  }
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  return `The request failed (HTTP ${status}).`;
}

/** A response body as JSON when it is JSON, else its text (null when empty). */
function parseText(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function parse(r: Response): Promise<unknown> {
  return parseText(await r.text());
}

/** The ApiError of a refused request, from its status and body text. */
export function refusal(status: number, text: string): ApiError {
  return new ApiError(status, errorMessage(parseText(text), status));
}

/** GETs a file as the signed-in user and hands it to the browser as a download named `name`. */
export async function downloadAs(session: Session, path: string, name: string): Promise<void> {
  const r = await fetch(path, { headers: { "X-Auth-Token": session.token } });
  if (!r.ok) throw refusal(r.status, await r.text());
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The browser reads the blob asynchronously after the click.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One API call as the signed-in user; resolves with the JSON body, rejects with an ApiError. */
export async function call<T = any>(
  session: Session | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  if (session) h["X-Auth-Token"] = session.token;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = await parse(r);
  if (!r.ok) {
    if (r.status === 401 && session) {
      saveSession(null);
      window.dispatchEvent(new Event("nimbus-signed-out"));
    }
    throw new ApiError(r.status, errorMessage(parsed, r.status));
  }
  return parsed as T;
}

async function token(auth: unknown): Promise<{ token: string; body: any }> {
  const r = await fetch("/identity/v3/auth/tokens", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ auth }),
  });
  const parsed = await parse(r);
  if (!r.ok) throw new ApiError(r.status, errorMessage(parsed, r.status));
  return { token: r.headers.get("X-Subject-Token") ?? "", body: parsed };
}

function sessionOf(t: { token: string; body: any }, region: string): Session {
  const tk = t.body.token;
  return {
    token: t.token,
    expiresAt: tk.expires_at,
    userId: tk.user.id,
    userName: tk.user.name,
    domainId: tk.user.domain.id,
    domainName: tk.user.domain.name,
    projectId: tk.project?.id ?? "",
    projectName: tk.project?.name ?? "",
    region,
    roles: (tk.roles ?? []).map((r: { name: string }) => r.name),
  };
}

/** The regions of the catalogue (each endpoint's region). */
function regionOf(body: any): string {
  for (const svc of body.token.catalog ?? []) {
    for (const ep of svc.endpoints ?? []) if (ep.region_id || ep.region) return ep.region_id ?? ep.region;
  }
  return "";
}

/** Signs in with a password, then scopes the token to the first project the user may use
 *  (or none when the user has no project). */
export async function signIn(user: string, password: string, domain: string): Promise<Session> {
  const unscoped = await token({
    identity: { methods: ["password"], password: { user: { name: user, domain: { name: domain }, password } } },
  });
  const projects = await call<{ projects: Project[] }>(
    { token: unscoped.token } as Session,
    "GET",
    "/identity/v3/auth/projects",
  );
  if (projects.projects.length === 0) {
    return sessionOf(unscoped, "");
  }
  return switchProject({ token: unscoped.token } as Session, projects.projects[0].id);
}

/** A token for another project of the same user (Keystone's token re-scope). */
export async function switchProject(s: Session, projectId: string): Promise<Session> {
  const scoped = await token({
    identity: { methods: ["token"], token: { id: s.token } },
    scope: { project: { id: projectId } },
  });
  return sessionOf(scoped, regionOf(scoped.body));
}

export async function listProjects(s: Session): Promise<Project[]> {
  return (await call<{ projects: Project[] }>(s, "GET", "/identity/v3/auth/projects")).projects;
}

/** Paths of the services, for a project. */
export const paths = {
  compute: "/compute/v2.1",
  image: "/image/v2",
  network: "/network/v2.0",
  volume: (s: Session) => `/volume/v3/${s.projectId}`,
  traces: (s: Session) => `/v3/${s.projectId}/traces`,
};
