// Servers (Nova): the list with its power actions, the create wizard (flavor, image, network,
// key pair, user data), and one server's page with its addresses, volumes and console log.

import { useEffect, useState } from "react";
import { call, paths } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, isBusy, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Server {
  id: string;
  name: string;
  status: string;
  flavor: { original_name?: string; id?: string };
  image: { id?: string } | string;
  addresses: Record<string, { addr: string }[]>;
  created: string;
  fault?: { message: string };
  "OS-EXT-AZ:availability_zone"?: string;
  "os-extended-volumes:volumes_attached"?: { id: string }[];
}

const NOVA = { "X-OpenStack-Nova-API-Version": "2.79" };

function addresses(s: Server): string {
  return Object.entries(s.addresses ?? {})
    .map(([net, list]) => `${net}: ${list.map((a) => a.addr).join(", ")}`)
    .join("; ");
}

function Wizard(props: { onClose: () => void; onCreated: (id: string) => void }) {
  const s = useSession();
  const [step, setStep] = useState(1);
  const [name, setName] = useState("");
  const [flavor, setFlavor] = useState("");
  const [image, setImage] = useState("");
  const [network, setNetwork] = useState("");
  const [key, setKey] = useState("");
  const [userData, setUserData] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const [busy, setBusy] = useState(false);
  const { data } = useLoad(async () => {
    const [f, i, n, k] = await Promise.all([
      call(s, "GET", `${paths.compute}/flavors/detail`),
      call(s, "GET", `${paths.image}/images?status=active`),
      call(s, "GET", `${paths.network}/networks`),
      call(s, "GET", `${paths.compute}/os-keypairs`),
    ]);
    return {
      flavors: f.flavors as { id: string; name: string; vcpus: number; ram: number; disk: number }[],
      images: i.images as { id: string; name: string }[],
      networks: (n.networks as { id: string; name: string; "router:external": boolean; subnets: string[] }[]).filter(
        (x) => !x["router:external"] && x.subnets.length > 0,
      ),
      keys: k.keypairs.map((x: { keypair: { name: string } }) => x.keypair.name) as string[],
    };
  }, [s.projectId]);
  useEffect(() => {
    if (data && !flavor && data.flavors.length) setFlavor(data.flavors[0].id);
    if (data && !image && data.images.length) setImage(data.images[0].id);
  }, [data]);
  const fields = {
    name: ["name"],
    flavor: ["flavor"],
    image: ["image"],
    network: ["network", "port"],
    key: ["key pair", "keypair", "key_name"],
    userData: ["user_data", "user data"],
  };
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (step < 3) {
      setStep(step + 1);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const server: Record<string, unknown> = { name, flavorRef: flavor, imageRef: image, networks: network ? [{ uuid: network }] : "none" };
      if (key) server.key_name = key;
      if (userData) server.user_data = btoa(unescape(encodeURIComponent(userData)));
      const r = await call(s, "POST", `${paths.compute}/servers`, { server }, NOVA);
      props.onCreated(r.server.id);
    } catch (err) {
      const fe = errorField(err, fields);
      setError(fe);
      if (fe.field === "name" || fe.field === "flavor" || fe.field === "image") setStep(1);
      else if (fe.field === "network" || fe.field === "key") setStep(2);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Create a server: step ${step} of 3`} onClose={props.onClose}>
      <form onSubmit={submit}>
        {!data && <p role="status">Loading the choices...</p>}
        {data && step === 1 && (
          <fieldset>
            <legend>Name, flavor and image</legend>
            <Field label="Name" name="name" error={error}>
              {(id, d) => <input id={id} aria-describedby={d} value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field label="Flavor" name="flavor" error={error}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={flavor} onChange={(e) => setFlavor(e.target.value)}>
                  {data.flavors.map((f) => (
                    <option key={f.id} value={f.id}>
                      {f.name} ({f.vcpus} vCPU, {f.ram} MB, {f.disk} GB)
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Image" name="image" error={error}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={image} onChange={(e) => setImage(e.target.value)}>
                  {data.images.map((i) => (
                    <option key={i.id} value={i.id}>
                      {i.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </fieldset>
        )}
        {data && step === 2 && (
          <fieldset>
            <legend>Network and access</legend>
            <Field label="Network" name="network" error={error} hint="Without one, the server gets user-mode networking.">
              {(id, d) => (
                <select id={id} aria-describedby={d} value={network} onChange={(e) => setNetwork(e.target.value)}>
                  <option value="">(none)</option>
                  {data.networks.map((n) => (
                    <option key={n.id} value={n.id}>
                      {n.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Key pair" name="key" error={error}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={key} onChange={(e) => setKey(e.target.value)}>
                  <option value="">(none)</option>
                  {data.keys.map((k) => (
                    <option key={k} value={k}>
                      {k}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </fieldset>
        )}
        {data && step === 3 && (
          <fieldset>
            <legend>User data</legend>
            <Field label="User data (a script run at first boot)" name="userData" error={error}>
              {(id, d) => <textarea id={id} aria-describedby={d} rows={6} value={userData} onChange={(e) => setUserData(e.target.value)} />}
            </Field>
          </fieldset>
        )}
        <FormError error={error} />
        <div className="buttons">
          {step > 1 && (
            <button type="button" className="secondary" onClick={() => setStep(step - 1)}>
              Back
            </button>
          )}
          <button type="submit" disabled={busy || !data}>
            {step < 3 ? "Next" : busy ? "Creating..." : "Create server"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function actions(s: ReturnType<typeof useSession>, srv: Server, run: (f: () => Promise<unknown>) => Promise<void>, reload: () => void) {
  const act = (body: unknown) => run(() => call(s, "POST", `${paths.compute}/servers/${srv.id}/action`, body, NOVA)).then(reload);
  return (
    <div className="row-actions">
      {srv.status === "SHUTOFF" && (
        <button type="button" className="small" onClick={() => act({ "os-start": null })} aria-label={`Start ${srv.name}`}>
          Start
        </button>
      )}
      {srv.status === "ACTIVE" && (
        <>
          <button type="button" className="small" onClick={() => act({ "os-stop": null })} aria-label={`Stop ${srv.name}`}>
            Stop
          </button>
          <button type="button" className="small" onClick={() => act({ reboot: { type: "SOFT" } })} aria-label={`Reboot ${srv.name}`}>
            Reboot
          </button>
        </>
      )}
      <button
        type="button"
        className="small danger"
        aria-label={`Delete ${srv.name}`}
        onClick={() => {
          if (window.confirm(`Delete server ${srv.name}?`)) run(() => call(s, "DELETE", `${paths.compute}/servers/${srv.id}`, undefined, NOVA)).then(reload);
        }}
      >
        Delete
      </button>
    </div>
  );
}

function ServerPage(props: { id: string }) {
  const s = useSession();
  const act = useAction();
  const { data, error, reload } = useLoad(
    async () => (await call(s, "GET", `${paths.compute}/servers/${props.id}`, undefined, NOVA)).server as Server,
    [props.id],
    (srv) => isBusy(srv.status),
  );
  const [log, setLog] = useState<string | null>(null);
  const [logError, setLogError] = useState<string | null>(null);
  const loadLog = async () => {
    try {
      const r = await call(s, "POST", `${paths.compute}/servers/${props.id}/action`, { "os-getConsoleOutput": { length: 200 } }, NOVA);
      setLog(r.output);
      setLogError(null);
    } catch (e) {
      setLogError((e as Error).message);
    }
  };
  useEffect(() => {
    if (data && !isBusy(data.status)) loadLog();
  }, [data?.status]);
  return (
    <Page title={data ? `Server ${data.name}` : "Server"} actions={<a href="#/servers">All servers</a>}>
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      {data && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Status value={data.status} />
              {data.fault && <span className="field-error"> {data.fault.message}</span>}
            </dd>
            <dt>Flavor</dt>
            <dd>{data.flavor.original_name ?? data.flavor.id}</dd>
            <dt>Addresses</dt>
            <dd>{addresses(data) || "user-mode networking"}</dd>
            <dt>Zone</dt>
            <dd>{data["OS-EXT-AZ:availability_zone"]}</dd>
            <dt>Volumes</dt>
            <dd>{(data["os-extended-volumes:volumes_attached"] ?? []).map((v) => v.id).join(", ") || "none"}</dd>
            <dt>Created</dt>
            <dd>{when(data.created)}</dd>
          </dl>
          {actions(s, data, act.run, reload)}
          <h2>Console log</h2>
          <button type="button" className="secondary" onClick={loadLog}>
            Refresh the log
          </button>
          {logError && <Alert>{logError}</Alert>}
          <pre className="console-log" aria-label="Console log" tabIndex={0}>
            {log ?? "..."}
          </pre>
        </>
      )}
    </Page>
  );
}

export function Servers() {
  const id = window.location.hash.split("/")[2];
  return id ? <ServerPage id={id} /> : <ServersList />;
}

function ServersList() {
  const s = useSession();
  const [creating, setCreating] = useState(false);
  const act = useAction();
  const { data, error, reload } = useLoad(
    async () => (await call(s, "GET", `${paths.compute}/servers/detail`, undefined, NOVA)).servers as Server[],
    [s.projectId],
    (list) => list.some((x) => isBusy(x.status)),
  );
  return (
    <Page
      title="Servers"
      actions={
        <button type="button" onClick={() => setCreating(true)}>
          Create server
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <Table
        caption="Servers"
        rows={data}
        rowKey={(r) => r.id}
        empty="No servers yet."
        columns={[
          { title: "Name", cell: (r) => <a href={`#/servers/${r.id}`}>{r.name || r.id}</a> },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Flavor", cell: (r) => r.flavor.original_name ?? r.flavor.id },
          { title: "Addresses", cell: (r) => addresses(r) },
          { title: "Actions", cell: (r) => actions(s, r, act.run, reload) },
        ]}
      />
      {creating && (
        <Wizard
          onClose={() => setCreating(false)}
          onCreated={(newId) => {
            setCreating(false);
            window.location.hash = `#/servers/${newId}`;
          }}
        />
      )}
    </Page>
  );
}
