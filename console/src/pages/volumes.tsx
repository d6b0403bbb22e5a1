// Volumes (Cinder v3): create, attach to a server and detach (Nova's volume attachments),
// snapshot, back up (full, then incremental), restore a backup to a new or a detached volume.

import { useState } from "react";
import { call, paths } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, isBusy, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Volume {
  id: string;
  name: string | null;
  size: number;
  status: string;
  volume_type: string;
  bootable: string;
  encrypted: boolean;
  attachments: { server_id: string; device: string }[];
  created_at: string;
}

interface Backup {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  size: number;
  is_incremental: boolean;
  created_at: string;
}

interface Snapshot {
  id: string;
  name: string | null;
  status: string;
  volume_id: string;
  size: number;
  created_at: string;
}

function CreateVolume(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [name, setName] = useState("");
  const [size, setSize] = useState("10");
  const [type, setType] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const [busy, setBusy] = useState(false);
  const types = useLoad(async () => (await call(s, "GET", `${paths.volume(s)}/types`)).volume_types as { id: string; name: string }[], [s.projectId]);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const volume: Record<string, unknown> = { name, size: Number(size) };
      if (type) volume.volume_type = type;
      await call(s, "POST", `${paths.volume(s)}/volumes`, { volume });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { size: ["size", "gigabytes", "gb"], type: ["type"], name: ["name"] }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Create a volume" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Name" name="name" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Size (GB)" name="size" error={error} hint="Data disks: 10 GB to 32 TB.">
          {(id, d) => <input id={id} aria-describedby={d} inputMode="numeric" value={size} onChange={(e) => setSize(e.target.value)} />}
        </Field>
        <Field label="Type" name="type" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={type} onChange={(e) => setType(e.target.value)}>
              <option value="">(default)</option>
              {(types.data ?? []).map((t) => (
                <option key={t.id} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit" disabled={busy}>
            {busy ? "Creating..." : "Create volume"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function AttachVolume(props: { volume: Volume; onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [server, setServer] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const servers = useLoad(
    async () => (await call(s, "GET", `${paths.compute}/servers/detail`)).servers as { id: string; name: string; status: string }[],
    [s.projectId],
  );
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", `${paths.compute}/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: props.volume.id } });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { server: ["server", "instance"] }));
    }
  };
  return (
    <Dialog title={`Attach ${props.volume.name || props.volume.id}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Server" name="server" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} required value={server} onChange={(e) => setServer(e.target.value)}>
              <option value="">Choose a server</option>
              {(servers.data ?? []).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name} ({x.status})
                </option>
              ))}
            </select>
          )}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Attach</button>
        </div>
      </form>
    </Dialog>
  );
}

function RestoreBackup(props: { backup: Backup; volumes: Volume[]; onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [target, setTarget] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const restore: Record<string, unknown> = target ? { volume_id: target } : { name: name || null };
      await call(s, "POST", `${paths.volume(s)}/backups/${props.backup.id}/restore`, { restore });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { target: ["volume"], name: ["name"] }));
    }
  };
  return (
    <Dialog title={`Restore ${props.backup.name || props.backup.id}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Restore to" name="target" error={error} hint="A detached volume at least as large, or a new volume.">
          {(id, d) => (
            <select id={id} aria-describedby={d} value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="">A new volume</option>
              {props.volumes.map((v) => (
                <option key={v.id} value={v.id}>
                  {v.name || v.id} ({v.status})
                </option>
              ))}
            </select>
          )}
        </Field>
        {!target && (
          <Field label="New volume's name" name="name" error={error}>
            {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
        )}
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Restore</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Volumes() {
  const s = useSession();
  const act = useAction();
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "attach"; v: Volume } | { kind: "restore"; b: Backup } | null>(null);
  const { data, error, reload } = useLoad(
    async () => {
      const [v, sn, b] = await Promise.all([
        call(s, "GET", `${paths.volume(s)}/volumes/detail`),
        call(s, "GET", `${paths.volume(s)}/snapshots/detail`),
        call(s, "GET", `${paths.volume(s)}/backups/detail`),
      ]);
      return { volumes: v.volumes as Volume[], snapshots: sn.snapshots as Snapshot[], backups: b.backups as Backup[] };
    },
    [s.projectId],
    (d) => [...d.volumes, ...d.snapshots, ...d.backups].some((x) => isBusy(x.status)),
  );
  const vname = (id: string) => data?.volumes.find((v) => v.id === id)?.name || id;
  const post = (path: string, body: unknown) => act.run(() => call(s, "POST", `${paths.volume(s)}${path}`, body)).then(reload);
  const done = () => {
    setDialog(null);
    reload();
  };
  return (
    <Page
      title="Volumes"
      actions={
        <button type="button" onClick={() => setDialog({ kind: "create" })}>
          Create volume
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <Table
        caption="Volumes"
        rows={data?.volumes ?? null}
        rowKey={(r) => r.id}
        empty="No volumes yet."
        columns={[
          { title: "Name", cell: (r) => r.name || r.id },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Size", cell: (r) => `${r.size} GB` },
          { title: "Type", cell: (r) => (r.encrypted ? `${r.volume_type} (encrypted)` : r.volume_type) },
          { title: "Attached to", cell: (r) => r.attachments.map((a) => `${a.server_id} on ${a.device}`).join(", ") },
          {
            title: "Actions",
            cell: (r) => {
              const label = r.name || r.id;
              return (
                <div className="row-actions">
                  {r.status === "available" && (
                    <button type="button" className="small" aria-label={`Attach ${label}`} onClick={() => setDialog({ kind: "attach", v: r })}>
                      Attach
                    </button>
                  )}
                  {r.status === "in-use" &&
                    r.attachments.map((a) => (
                      <button
                        key={a.server_id}
                        type="button"
                        className="small"
                        aria-label={`Detach ${label}`}
                        onClick={() => act.run(() => call(s, "DELETE", `${paths.compute}/servers/${a.server_id}/os-volume_attachments/${r.id}`)).then(reload)}
                      >
                        Detach
                      </button>
                    ))}
                  <button
                    type="button"
                    className="small"
                    aria-label={`Snapshot ${label}`}
                    onClick={() => post("/snapshots", { snapshot: { volume_id: r.id, name: `${label}-snap`, force: true } })}
                  >
                    Snapshot
                  </button>
                  <button
                    type="button"
                    className="small"
                    aria-label={`Back up ${label}`}
                    onClick={() =>
                      post("/backups", {
                        backup: { volume_id: r.id, name: `${label}-backup`, incremental: data!.backups.some((b) => b.volume_id === r.id && b.status === "available"), force: true },
                      })
                    }
                  >
                    Back up
                  </button>
                  <button
                    type="button"
                    className="small danger"
                    aria-label={`Delete ${label}`}
                    onClick={() => {
                      if (window.confirm(`Delete volume ${label}?`)) act.run(() => call(s, "DELETE", `${paths.volume(s)}/volumes/${r.id}`)).then(reload);
                    }}
                  >
                    Delete
                  </button>
                </div>
              );
            },
          },
        ]}
      />
      <h2>Snapshots</h2>
      <Table
        caption="Snapshots"
        rows={data?.snapshots ?? null}
        rowKey={(r) => r.id}
        empty="No snapshots."
        columns={[
          { title: "Name", cell: (r) => r.name || r.id },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Volume", cell: (r) => vname(r.volume_id) },
          { title: "Size", cell: (r) => `${r.size} GB` },
          { title: "Created", cell: (r) => when(r.created_at) },
        ]}
      />
      <h2>Backups</h2>
      <Table
        caption="Backups"
        rows={data?.backups ?? null}
        rowKey={(r) => r.id}
        empty="No backups."
        columns={[
          { title: "Name", cell: (r) => r.name || r.id },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Volume", cell: (r) => vname(r.volume_id) },
          { title: "Kind", cell: (r) => (r.is_incremental ? "incremental" : "full") },
          { title: "Created", cell: (r) => when(r.created_at) },
          {
            title: "Actions",
            cell: (r) =>
              r.status === "available" && (
                <button type="button" className="small" aria-label={`Restore ${r.name || r.id}`} onClick={() => setDialog({ kind: "restore", b: r })}>
                  Restore
                </button>
              ),
          },
        ]}
      />
      {dialog?.kind === "create" && <CreateVolume onClose={() => setDialog(null)} onDone={done} />}
      {dialog?.kind === "attach" && <AttachVolume volume={dialog.v} onClose={() => setDialog(null)} onDone={done} />}
      {dialog?.kind === "restore" && (
        <RestoreBackup backup={dialog.b} volumes={(data?.volumes ?? []).filter((v) => v.status === "available")} onClose={() => setDialog(null)} onDone={done} />
      )}
    </Page>
  );
}
