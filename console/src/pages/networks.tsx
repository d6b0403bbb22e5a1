// Networking: networks (a VPC's subnets are networks), subnets, security groups with their
// rules, EIPs (floating IPs of the external network), routers (VPCs), NAT gateways, DNS zones.

import { useState } from "react";
import { call, paths } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, useAction, useLoad, useSession, type FieldError } from "../ui";

interface Network {
  id: string;
  name: string;
  status: string;
  subnets: string[];
  shared: boolean;
  "router:external": boolean;
}
interface Subnet {
  id: string;
  name: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
}
interface Rule {
  id: string;
  direction: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  ethertype: string;
}
interface Group {
  id: string;
  name: string;
  description: string;
  security_group_rules: Rule[];
}
interface Router {
  id: string;
  name: string;
  status: string;
  external_gateway_info: { network_id: string; enable_snat: boolean } | null;
  routes: { destination: string; nexthop: string }[];
}
interface Nat {
  id: string;
  name: string;
  status: string;
  spec: string;
  router_id: string;
}
interface Zone {
  id: string;
  name: string;
  zone_type: string;
  status: string;
  record_num: number;
}
interface Fip {
  id: string;
  floating_ip_address: string;
  fixed_ip_address: string | null;
  status: string;
  port_id: string | null;
}

function rule(r: Rule): string {
  const ports = r.port_range_min === null ? "any port" : r.port_range_min === r.port_range_max ? `port ${r.port_range_min}` : `ports ${r.port_range_min}-${r.port_range_max}`;
  const peer = r.remote_ip_prefix ?? (r.remote_group_id ? `group ${r.remote_group_id.slice(0, 8)}` : "anywhere");
  return `${r.direction} ${r.ethertype} ${r.protocol ?? "any"} ${ports} ${r.direction === "ingress" ? "from" : "to"} ${peer}`;
}

function CreateNetwork(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [name, setName] = useState("");
  const [cidr, setCidr] = useState("192.168.1.0/24");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    let created: string | null = null;
    try {
      const n = await call(s, "POST", `${paths.network}/networks`, { network: { name } });
      created = n.network.id;
      await call(s, "POST", `${paths.network}/subnets`, { subnet: { network_id: created, name: `${name}-subnet`, ip_version: 4, cidr } });
      props.onDone();
    } catch (err) {
      // Nothing half-created: a network whose subnet was refused goes again.
      if (created) await call(s, "DELETE", `${paths.network}/networks/${created}`).catch(() => undefined);
      setError(errorField(err, { cidr: ["cidr", "range", "subnet", "address"], name: ["name"] }));
    }
  };
  return (
    <Dialog title="Create a network and its subnet" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Name" name="name" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} required value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Subnet range (CIDR)" name="cidr" error={error} hint="Inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.">
          {(id, d) => <input id={id} aria-describedby={d} required value={cidr} onChange={(e) => setCidr(e.target.value)} />}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Create network</button>
        </div>
      </form>
    </Dialog>
  );
}

function AddRule(props: { group: Group; onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [protocol, setProtocol] = useState("tcp");
  const [port, setPort] = useState("22");
  const [remote, setRemote] = useState("0.0.0.0/0");
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r: Record<string, unknown> = { security_group_id: props.group.id, direction: "ingress", ethertype: "IPv4", protocol, remote_ip_prefix: remote };
      if (port && protocol !== "icmp") {
        const [lo, hi] = port.split("-");
        r.port_range_min = Number(lo);
        r.port_range_max = Number(hi ?? lo);
      }
      await call(s, "POST", `${paths.network}/security-group-rules`, { security_group_rule: r });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { port: ["port"], remote: ["remote", "cidr", "prefix"], protocol: ["protocol"] }));
    }
  };
  return (
    <Dialog title={`Allow traffic into ${props.group.name}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Protocol" name="protocol" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={protocol} onChange={(e) => setProtocol(e.target.value)}>
              <option value="tcp">TCP</option>
              <option value="udp">UDP</option>
              <option value="icmp">ICMP</option>
            </select>
          )}
        </Field>
        <Field label="Port or range (22, 8000-8080)" name="port" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={port} onChange={(e) => setPort(e.target.value)} />}
        </Field>
        <Field label="From (CIDR)" name="remote" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={remote} onChange={(e) => setRemote(e.target.value)} />}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Add rule</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Networks() {
  const s = useSession();
  const act = useAction();
  const [dialog, setDialog] = useState<{ kind: "net" } | { kind: "rule"; g: Group } | null>(null);
  const { data, error, reload } = useLoad(async () => {
    const [n, sn, g, f, r, nat, pub, priv] = await Promise.all([
      call(s, "GET", `${paths.network}/networks`),
      call(s, "GET", `${paths.network}/subnets`),
      call(s, "GET", `${paths.network}/security-groups?project_id=${s.projectId}`),
      call(s, "GET", `${paths.network}/floatingips`),
      call(s, "GET", `${paths.network}/routers`),
      call(s, "GET", `/v2/${s.projectId}/nat_gateways`),
      call(s, "GET", "/v2/zones?type=public"),
      call(s, "GET", "/v2/zones?type=private"),
    ]);
    return {
      networks: n.networks as Network[],
      subnets: sn.subnets as Subnet[],
      groups: g.security_groups as Group[],
      fips: f.floatingips as Fip[],
      routers: r.routers as Router[],
      nats: nat.nat_gateways as Nat[],
      zones: [...pub.zones, ...priv.zones] as Zone[],
    };
  }, [s.projectId]);
  const external = data?.networks.find((n) => n["router:external"]);
  const done = () => {
    setDialog(null);
    reload();
  };
  return (
    <Page
      title="Networks"
      actions={
        <button type="button" onClick={() => setDialog({ kind: "net" })}>
          Create network
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <h2>Networks and subnets</h2>
      <Table
        caption="Networks"
        rows={data?.networks ?? null}
        rowKey={(r) => r.id}
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          {
            title: "Subnets",
            cell: (r) =>
              (data?.subnets ?? [])
                .filter((x) => x.network_id === r.id)
                .map((x) => `${x.cidr} (gateway ${x.gateway_ip ?? "none"})`)
                .join(", "),
          },
          { title: "Kind", cell: (r) => (r["router:external"] ? "external" : r.shared ? "shared" : "private") },
          {
            title: "Actions",
            cell: (r) =>
              !r["router:external"] && !r.shared && (
                <button
                  type="button"
                  className="small danger"
                  aria-label={`Delete ${r.name}`}
                  onClick={() => {
                    if (window.confirm(`Delete network ${r.name}?`)) act.run(() => call(s, "DELETE", `${paths.network}/networks/${r.id}`)).then(reload);
                  }}
                >
                  Delete
                </button>
              ),
          },
        ]}
      />
      <h2>Security groups</h2>
      <Table
        caption="Security groups"
        rows={data?.groups ?? null}
        rowKey={(r) => r.id}
        columns={[
          { title: "Name", cell: (r) => r.name },
          {
            title: "Rules",
            cell: (r) => (
              <ul className="plain">
                {r.security_group_rules.map((x) => (
                  <li key={x.id}>{rule(x)}</li>
                ))}
              </ul>
            ),
          },
          {
            title: "Actions",
            cell: (r) => (
              <button type="button" className="small" aria-label={`Add a rule to ${r.name}`} onClick={() => setDialog({ kind: "rule", g: r })}>
                Add rule
              </button>
            ),
          },
        ]}
      />
      <h2>EIPs</h2>
      <div className="buttons">
        <button
          type="button"
          className="secondary"
          disabled={!external}
          onClick={() => act.run(() => call(s, "POST", `${paths.network}/floatingips`, { floatingip: { floating_network_id: external!.id } })).then(reload)}
        >
          Allocate an EIP
        </button>
      </div>
      <Table
        caption="EIPs"
        rows={data?.fips ?? null}
        rowKey={(r) => r.id}
        empty="No EIPs."
        columns={[
          { title: "Address", cell: (r) => r.floating_ip_address },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Bound to", cell: (r) => r.fixed_ip_address ?? "" },
          {
            title: "Actions",
            cell: (r) => (
              <button
                type="button"
                className="small danger"
                aria-label={`Release ${r.floating_ip_address}`}
                onClick={() => act.run(() => call(s, "DELETE", `${paths.network}/floatingips/${r.id}`)).then(reload)}
              >
                Release
              </button>
            ),
          },
        ]}
      />
      <h2>Routers and VPCs</h2>
      <Table
        caption="Routers"
        rows={data?.routers ?? null}
        rowKey={(r) => r.id}
        empty="No routers."
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Gateway", cell: (r) => (r.external_gateway_info ? `external${r.external_gateway_info.enable_snat ? ", SNAT" : ""}` : "none") },
          { title: "Routes", cell: (r) => r.routes.map((x) => `${x.destination} via ${x.nexthop}`).join(", ") },
        ]}
      />
      <h2>NAT gateways</h2>
      <Table
        caption="NAT gateways"
        rows={data?.nats ?? null}
        rowKey={(r) => r.id}
        empty="No NAT gateways."
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Size", cell: (r) => r.spec },
          { title: "VPC (router)", cell: (r) => data?.routers.find((x) => x.id === r.router_id)?.name ?? r.router_id },
        ]}
      />
      <h2>DNS zones</h2>
      <Table
        caption="DNS zones"
        rows={data?.zones ?? null}
        rowKey={(z) => z.id}
        empty="No DNS zones."
        columns={[
          { title: "Zone", cell: (z) => z.name },
          { title: "Type", cell: (z) => z.zone_type },
          { title: "Status", cell: (z) => <Status value={z.status} /> },
          { title: "Records", cell: (z) => z.record_num },
        ]}
      />
      {dialog?.kind === "net" && <CreateNetwork onClose={() => setDialog(null)} onDone={done} />}
      {dialog?.kind === "rule" && <AddRule group={dialog.g} onClose={() => setDialog(null)} onDone={done} />}
    </Page>
  );
}
