// Object storage: the project's buckets (create with a storage class, delete when empty), and
// a bucket's objects (browse by prefix, upload with a progress bar, download, delete), through
// the token API at /v1/obs (the S3 listener is for signed clients).

import { useRef, useState } from "react";
import { call, downloadAs, refusal, type Session } from "../api";
import { Alert, Dialog, Field, FormError, Page, Table, bytes, errorField, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Bucket {
  name: string;
  storage_class: string;
  objects: number;
  bytes: number;
  created_at: string;
}
interface Obj {
  key: string;
  size: number;
  storage_class: string;
  last_modified: string;
  content_type: string | null;
}

const CLASSES = ["STANDARD", "WARM", "COLD"];

function objectPath(bucket: string, key: string, extra = ""): string {
  return `/v1/obs/buckets/${encodeURIComponent(bucket)}/object?key=${encodeURIComponent(key)}${extra}`;
}

/** PUT with upload progress (fetch has none): resolves when stored, rejects with the API's message. */
function upload(s: Session, bucket: string, file: File, cls: string, onProgress: (done: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("PUT", objectPath(bucket, file.name, cls ? `&storage_class=${cls}` : ""));
    x.setRequestHeader("X-Auth-Token", s.token);
    x.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => (x.status >= 200 && x.status < 300 ? resolve() : reject(refusal(x.status, x.responseText)));
    x.onerror = () => reject(new Error("The upload was interrupted."));
    x.send(file);
  });
}

function download(s: Session, bucket: string, key: string) {
  return downloadAs(s, objectPath(bucket, key), key.split("/").pop() || key);
}

function CreateBucket(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [name, setName] = useState("");
  const [cls, setCls] = useState("STANDARD");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", "/v1/obs/buckets", { name, storage_class: cls });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { name: ["name", "bucket"], cls: ["class"] }));
    }
  };
  return (
    <Dialog title="Create a bucket" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Bucket name" name="name" error={error} hint="3-63 lower-case letters, digits, dots and hyphens, unique in the region.">
          {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Default storage class" name="cls" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={cls} onChange={(e) => setCls(e.target.value)}>
              {CLASSES.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Create bucket</button>
        </div>
      </form>
    </Dialog>
  );
}

function BucketPage(props: { name: string }) {
  const s = useSession();
  const act = useAction();
  const [prefix, setPrefix] = useState("");
  const [applied, setApplied] = useState("");
  const [cls, setCls] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const { data, error, reload } = useLoad(
    async () => (await call(s, "GET", `/v1/obs/buckets/${encodeURIComponent(props.name)}/objects?prefix=${encodeURIComponent(applied)}`)).objects as Obj[],
    [props.name, applied],
  );
  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    const f = file.current?.files?.[0];
    if (!f) return setUploadError("Choose a file to upload.");
    setUploadError(null);
    setProgress(0);
    try {
      await upload(s, props.name, f, cls, setProgress);
      setProgress(1);
      if (file.current) file.current.value = "";
      reload();
    } catch (err) {
      setUploadError((err as Error).message);
      setProgress(null);
    }
  };
  return (
    <Page title={`Bucket ${props.name}`} actions={<a href="#/buckets">All buckets</a>}>
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <form className="filters" onSubmit={send} aria-label="Upload an object">
        <div className="field inline">
          <label htmlFor="upload-file">File to upload</label>
          <input id="upload-file" type="file" ref={file} />
        </div>
        <div className="field inline">
          <label htmlFor="upload-class">Storage class</label>
          <select id="upload-class" value={cls} onChange={(e) => setCls(e.target.value)}>
            <option value="">(the bucket's)</option>
            {CLASSES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={progress !== null && progress < 1}>
          Upload
        </button>
        {progress !== null && (
          <div className="field inline">
            <label htmlFor="upload-progress">{progress < 1 ? "Uploading" : "Uploaded"}</label>
            <progress id="upload-progress" max={1} value={progress}>
              {Math.round(progress * 100)}%
            </progress>
          </div>
        )}
      </form>
      {uploadError && <Alert>{uploadError}</Alert>}
      <form
        className="filters"
        aria-label="Browse by prefix"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(prefix);
        }}
      >
        <div className="field inline">
          <label htmlFor="prefix">Prefix (folder)</label>
          <input id="prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
        </div>
        <button type="submit" className="secondary">
          Browse
        </button>
      </form>
      <Table
        caption="Objects"
        rows={data}
        rowKey={(o) => o.key}
        empty="No objects here."
        columns={[
          { title: "Key", cell: (o) => o.key },
          { title: "Size", cell: (o) => bytes(o.size) },
          { title: "Class", cell: (o) => o.storage_class },
          { title: "Modified", cell: (o) => when(o.last_modified) },
          {
            title: "Actions",
            cell: (o) => (
              <div className="row-actions">
                <button type="button" className="small" aria-label={`Download ${o.key}`} onClick={() => act.run(() => download(s, props.name, o.key))}>
                  Download
                </button>
                <button
                  type="button"
                  className="small danger"
                  aria-label={`Delete ${o.key}`}
                  onClick={() => {
                    if (window.confirm(`Delete ${o.key}?`)) act.run(() => call(s, "DELETE", objectPath(props.name, o.key))).then(reload);
                  }}
                >
                  Delete
                </button>
              </div>
            ),
          },
        ]}
      />
    </Page>
  );
}

function BucketList() {
  const s = useSession();
  const act = useAction();
  const [creating, setCreating] = useState(false);
  const { data, error, reload } = useLoad(async () => (await call(s, "GET", "/v1/obs/buckets")).buckets as Bucket[], [s.projectId]);
  return (
    <Page
      title="Buckets"
      actions={
        <button type="button" onClick={() => setCreating(true)}>
          Create bucket
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <Table
        caption="Buckets"
        rows={data}
        rowKey={(b) => b.name}
        empty="No buckets yet."
        columns={[
          { title: "Name", cell: (b) => <a href={`#/buckets/${encodeURIComponent(b.name)}`}>{b.name}</a> },
          { title: "Storage class", cell: (b) => b.storage_class },
          { title: "Objects", cell: (b) => b.objects },
          { title: "Size", cell: (b) => bytes(b.bytes) },
          { title: "Created", cell: (b) => when(b.created_at) },
          {
            title: "Actions",
            cell: (b) => (
              <button
                type="button"
                className="small danger"
                aria-label={`Delete ${b.name}`}
                onClick={() => {
                  if (window.confirm(`Delete bucket ${b.name}?`)) act.run(() => call(s, "DELETE", `/v1/obs/buckets/${encodeURIComponent(b.name)}`)).then(reload);
                }}
              >
                Delete
              </button>
            ),
          },
        ]}
      />
      {creating && (
        <CreateBucket
          onClose={() => setCreating(false)}
          onDone={() => {
            setCreating(false);
            reload();
          }}
        />
      )}
    </Page>
  );
}

export function Buckets() {
  const name = window.location.hash.split("/")[2];
  return name ? <BucketPage name={decodeURIComponent(name)} /> : <BucketList />;
}
