// Access: the user's SSH key pairs (imported public keys, used by the server wizard) and
// permanent access keys (AK/SK for the Huawei SDKs and S3 clients; the secret is shown once).

import { useState } from "react";
import { call, paths } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface KeyPair {
  name: string;
  fingerprint: string;
  type?: string;
}
interface AccessKey {
  access: string;
  status: string;
  create_time: string;
  description: string;
}

function ImportKey(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", `${paths.compute}/os-keypairs`, { keypair: { name, public_key: key.trim() } });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { name: ["name"], key: ["public key", "public_key", "key"] }));
    }
  };
  return (
    <Dialog title="Import a key pair" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Key pair name" name="name" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Public key (ssh-ed25519 or ssh-rsa)" name="key" error={error}>
          {(id, d) => <textarea id={id} aria-describedby={d} rows={4} value={key} onChange={(e) => setKey(e.target.value)} />}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Import key pair</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Access() {
  const s = useSession();
  const act = useAction();
  const [importing, setImporting] = useState(false);
  const [secret, setSecret] = useState<{ access: string; secret: string } | null>(null);
  const { data, error, reload } = useLoad(async () => {
    const [k, a] = await Promise.all([
      call(s, "GET", `${paths.compute}/os-keypairs`),
      call(s, "GET", `/v3.0/OS-CREDENTIAL/credentials?user_id=${s.userId}`),
    ]);
    return {
      keys: k.keypairs.map((x: { keypair: KeyPair }) => x.keypair) as KeyPair[],
      access: a.credentials as AccessKey[],
    };
  }, [s.projectId]);
  return (
    <Page title="Access">
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <h2>Key pairs</h2>
      <div className="buttons">
        <button type="button" className="secondary" onClick={() => setImporting(true)}>
          Import key pair
        </button>
      </div>
      <Table
        caption="Key pairs"
        rows={data?.keys ?? null}
        rowKey={(k) => k.name}
        empty="No key pairs."
        columns={[
          { title: "Name", cell: (k) => k.name },
          { title: "Fingerprint", cell: (k) => k.fingerprint },
          {
            title: "Actions",
            cell: (k) => (
              <button
                type="button"
                className="small danger"
                aria-label={`Delete key pair ${k.name}`}
                onClick={() => act.run(() => call(s, "DELETE", `${paths.compute}/os-keypairs/${encodeURIComponent(k.name)}`)).then(reload)}
              >
                Delete
              </button>
            ),
          },
        ]}
      />
      <h2>Access keys</h2>
      <div className="buttons">
        <button
          type="button"
          className="secondary"
          onClick={() =>
            act
              .run(async () => {
                const r = await call(s, "POST", "/v3.0/OS-CREDENTIAL/credentials", { credential: { user_id: s.userId, description: "made in the console" } });
                setSecret({ access: r.credential.access, secret: r.credential.secret });
              })
              .then(reload)
          }
        >
          Create access key
        </button>
      </div>
      {secret && (
        <Alert kind="info">
          New access key <code>{secret.access}</code>, secret <code>{secret.secret}</code>: copy the secret now, it is not shown again.
        </Alert>
      )}
      <Table
        caption="Access keys"
        rows={data?.access ?? null}
        rowKey={(a) => a.access}
        empty="No access keys."
        columns={[
          { title: "Access key", cell: (a) => <code>{a.access}</code> },
          { title: "Status", cell: (a) => <Status value={a.status} /> },
          { title: "Created", cell: (a) => when(a.create_time) },
          { title: "Description", cell: (a) => a.description },
          {
            title: "Actions",
            cell: (a) => (
              <button
                type="button"
                className="small danger"
                aria-label={`Delete access key ${a.access}`}
                onClick={() => act.run(() => call(s, "DELETE", `/v3.0/OS-CREDENTIAL/credentials/${a.access}`)).then(reload)}
              >
                Delete
              </button>
            ),
          },
        ]}
      />
      {importing && (
        <ImportKey
          onClose={() => setImporting(false)}
          onDone={() => {
            setImporting(false);
            reload();
          }}
        />
      )}
    </Page>
  );
}
