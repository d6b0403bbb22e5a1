// Shared building blocks of the console's pages: data loading with polling, tables, forms
// whose API errors land next to the field they name, status badges.

import { createContext, useCallback, useContext, useEffect, useId, useRef, useState } from "react";
import type { ReactNode } from "react";
import { ApiError, type Session } from "./api";

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("no session");
  return s;
}

/** Loads data, reloads on demand, and polls while `poll(data)` says work is under way (a
 *  server building, a volume attaching...). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], poll?: (d: T) => boolean) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const reload = useCallback(async () => {
    window.clearTimeout(timer.current);
    try {
      const d = await load();
      setData(d);
      setError(null);
      if (poll && poll(d)) timer.current = window.setTimeout(reload, 1500);
    } catch (e) {
      setError((e as Error).message);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    reload();
    return () => window.clearTimeout(timer.current);
  }, [reload]);
  return { data, error, reload };
}

export function Page(props: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${props.title} - Nimbus console`;
  }, [props.title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div className="page-actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Alert(props: { children: ReactNode; kind?: "error" | "info" }) {
  return (
    <p className={`alert alert-${props.kind ?? "error"}`} role={props.kind === "info" ? "status" : "alert"}>
      {props.children}
    </p>
  );
}

export interface Column<T> {
  title: string;
  cell: (row: T) => ReactNode;
}

export function Table<T>(props: { caption: string; rows: T[] | null; columns: Column<T>[]; empty?: string; rowKey: (r: T) => string }) {
  if (props.rows === null) return <p role="status">Loading...</p>;
  if (props.rows.length === 0) return <p className="empty">{props.empty ?? "Nothing here yet."}</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.title} scope="col">
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={props.rowKey(r)}>
              {props.columns.map((c) => (
                <td key={c.title} data-label={c.title}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const BUSY = /^(BUILD|REBOOT|HARD_REBOOT|RESIZE|creating|attaching|detaching|extending|deleting|backing-up|restoring-backup|downloading|uploading|saving|queued|importing|reverting|in_progress|new)$/i;
const BAD = /^(ERROR|error|error_deleting|error_restoring|killed|breached)$/;
const GOOD = /^(ACTIVE|available|in-use|active|resolved|closed|issued|DOWN|ok)$/;

export function Status(props: { value: string }) {
  const v = props.value;
  const cls = BAD.test(v) ? "bad" : BUSY.test(v) ? "busy" : GOOD.test(v) ? "good" : "plain";
  return (
    <span className={`status status-${cls}`}>
      {cls === "busy" && <span className="spinner" aria-hidden="true" />}
      {v}
    </span>
  );
}

export function isBusy(status: string): boolean {
  return BUSY.test(status);
}

/** A form field: a label, the control, and the API's error when it names this field. */
export function Field(props: {
  label: string;
  name: string;
  error?: FieldError | null;
  hint?: string;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const mine = props.error && props.error.field === props.name ? props.error.message : null;
  const errId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [mine ? errId : "", props.hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${mine ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint && (
        <small id={hintId} className="hint">
          {props.hint}
        </small>
      )}
      {mine && (
        <span id={errId} className="field-error" role="alert">
          {mine}
        </span>
      )}
    </div>
  );
}

export interface FieldError {
  field: string | null;
  message: string;
}

/** Which field of a form an API error is about: the first field whose name (or one of its
 *  words) the message mentions; none for a message about the whole request. */
export function errorField(e: unknown, fields: Record<string, string[]>): FieldError {
  const message = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  const lower = message.toLowerCase();
  for (const [field, words] of Object.entries(fields)) {
    if (words.some((w) => lower.includes(w.toLowerCase()))) return { field, message };
  }
  return { field: null, message };
}

/** The form-wide error (one no field claimed). */
export function FormError(props: { error: FieldError | null }) {
  if (!props.error || props.error.field) return null;
  return <Alert>{props.error.message}</Alert>;
}

export function Dialog(props: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={props.onClose} onCancel={props.onClose}>
      <header className="dialog-head">
        <h2 id="dialog-title">{props.title}</h2>
        <button type="button" className="link" onClick={props.onClose} aria-label="Close">
          x
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** A byte count for people (B, KiB, MiB, GiB). */
export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Runs an action, showing its error as an alert of the page. */
export function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run, setError };
}
