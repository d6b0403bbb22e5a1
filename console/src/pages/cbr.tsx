// Cloud Backup and Recovery: vaults (capacity, the disks or servers they protect, the bound
// policy), policies (schedules and retention) and the backups made in them.

import { useState } from "react";
import { call } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Vault {
  id: string;
  name: string;
  billing: { size: number; used: number; object_type: string };
  resources: { id: string; type: string; backup_count: number }[];
  policy_id: string | null;
}
interface Policy {
  id: string;
  name: string;
  enabled: boolean;
  operation_definition: { max_backups?: number; retention_duration_days?: number };
  trigger: { properties: { pattern: string[] } };
}
interface CbrBackup {
  id: string;
  name: string;
  status: string;
  resource_name: string;
  resource_type: string;
  vault_id: string;
  created_at: string;
}

function CreateVault(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [name, setName] = useState("");
  const [size, setSize] = useState("100");
  const [kind, setKind] = useState("disk");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", `/v3/${s.projectId}/vaults`, {
        vault: {
          name,
          resources: [],
          billing: { consistent_level: "crash_consistent", object_type: kind, protect_type: "backup", size: Number(size) },
        },
      });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { name: ["name"], size: ["size", "capacity"], kind: ["object_type"] }));
    }
  };
  return (
    <Dialog title="Create a vault" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Vault name" name="name" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Capacity (GB)" name="size" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} inputMode="numeric" value={size} onChange={(e) => setSize(e.target.value)} />}
        </Field>
        <Field label="Protects" name="kind" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={kind} onChange={(e) => setKind(e.target.value)}>
              <option value="disk">disks</option>
              <option value="server">servers</option>
            </select>
          )}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Create vault</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Cbr() {
  const s = useSession();
  const act = useAction();
  const [creating, setCreating] = useState(false);
  const { data, error, reload } = useLoad(async () => {
    const [v, p, b] = await Promise.all([
      call(s, "GET", `/v3/${s.projectId}/vaults`),
      call(s, "GET", `/v3/${s.projectId}/policies`),
      call(s, "GET", `/v3/${s.projectId}/backups`),
    ]);
    return { vaults: v.vaults as Vault[], policies: p.policies as Policy[], backups: b.backups as CbrBackup[] };
  }, [s.projectId]);
  const policyName = (id: string | null) => data?.policies.find((p) => p.id === id)?.name ?? "";
  return (
    <Page
      title="Backup vaults (CBR)"
      actions={
        <button type="button" onClick={() => setCreating(true)}>
          Create vault
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <Table
        caption="Vaults"
        rows={data?.vaults ?? null}
        rowKey={(v) => v.id}
        empty="No vaults."
        columns={[
          { title: "Name", cell: (v) => v.name },
          { title: "Protects", cell: (v) => v.billing.object_type },
          { title: "Used / capacity", cell: (v) => `${v.billing.used} MB / ${v.billing.size} GB` },
          { title: "Resources", cell: (v) => v.resources.map((r) => `${r.id.slice(0, 8)} (${r.backup_count} backups)`).join(", ") },
          { title: "Policy", cell: (v) => policyName(v.policy_id) },
          {
            title: "Actions",
            cell: (v) => (
              <button
                type="button"
                className="small danger"
                aria-label={`Delete vault ${v.name}`}
                onClick={() => {
                  if (window.confirm(`Delete vault ${v.name} and its backups?`)) act.run(() => call(s, "DELETE", `/v3/${s.projectId}/vaults/${v.id}`)).then(reload);
                }}
              >
                Delete
              </button>
            ),
          },
        ]}
      />
      <h2>Policies</h2>
      <Table
        caption="Policies"
        rows={data?.policies ?? null}
        rowKey={(p) => p.id}
        empty="No policies."
        columns={[
          { title: "Name", cell: (p) => p.name },
          { title: "Enabled", cell: (p) => (p.enabled ? "yes" : "no") },
          { title: "Schedule", cell: (p) => (p.trigger?.properties?.pattern ?? []).join("; ") },
          {
            title: "Retention",
            cell: (p) =>
              p.operation_definition.max_backups ? `${p.operation_definition.max_backups} backups` : p.operation_definition.retention_duration_days ? `${p.operation_definition.retention_duration_days} days` : "",
          },
        ]}
      />
      <h2>Backups</h2>
      <Table
        caption="CBR backups"
        rows={data?.backups ?? null}
        rowKey={(b) => b.id}
        empty="No backups in vaults."
        columns={[
          { title: "Name", cell: (b) => b.name },
          { title: "Status", cell: (b) => <Status value={b.status} /> },
          { title: "Resource", cell: (b) => `${b.resource_type} ${b.resource_name}` },
          { title: "Created", cell: (b) => when(b.created_at) },
        ]}
      />
      {creating && (
        <CreateVault
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
