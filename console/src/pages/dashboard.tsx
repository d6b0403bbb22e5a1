// The dashboard: what the project holds against its quotas (Nova's and Cinder's limits, the
// same numbers `openstack limits show` prints) and the month's spending so far.

import { call, paths } from "../api";
import { Alert, Page, useLoad, useSession } from "../ui";

interface Meter {
  label: string;
  used: number;
  max: number;
  unit?: string;
}

function Gauge(props: { m: Meter }) {
  const { used, max, label, unit } = props.m;
  const unlimited = max < 0;
  return (
    <div className="gauge">
      <div className="gauge-label">
        <span>{label}</span>
        <span>
          {used}
          {unit ?? ""} / {unlimited ? "unlimited" : `${max}${unit ?? ""}`}
        </span>
      </div>
      <meter min={0} max={unlimited ? Math.max(used, 1) : Math.max(max, 1)} value={used} aria-label={`${label} used`}>
        {used}
      </meter>
    </div>
  );
}

export function Dashboard() {
  const s = useSession();
  const { data, error } = useLoad(async () => {
    const [nova, cinder, nets, fips, invoice] = await Promise.all([
      call(s, "GET", `${paths.compute}/limits`),
      call(s, "GET", `${paths.volume(s)}/limits`),
      call(s, "GET", `${paths.network}/networks?project_id=${s.projectId}`),
      call(s, "GET", `${paths.network}/floatingips`),
      call(s, "GET", "/v1/billing/invoices/current").catch(() => null),
    ]);
    const n = nova.limits.absolute;
    const c = cinder.limits.absolute;
    const meters: Meter[] = [
      { label: "Servers", used: n.totalInstancesUsed, max: n.maxTotalInstances },
      { label: "vCPUs", used: n.totalCoresUsed, max: n.maxTotalCores },
      { label: "RAM", used: n.totalRAMUsed, max: n.maxTotalRAMSize, unit: " MB" },
      { label: "Volumes", used: c.totalVolumesUsed, max: c.maxTotalVolumes },
      { label: "Volume storage", used: c.totalGigabytesUsed, max: c.maxTotalVolumeGigabytes, unit: " GB" },
      { label: "Snapshots", used: c.totalSnapshotsUsed, max: c.maxTotalSnapshots },
      { label: "Backups", used: c.totalBackupsUsed ?? 0, max: c.maxTotalBackups ?? -1 },
    ];
    return { meters, networks: nets.networks.length, fips: fips.floatingips.length, invoice: invoice?.invoice ?? null };
  }, [s.projectId]);
  return (
    <Page title="Dashboard">
      {error && <Alert>{error}</Alert>}
      {!data && !error && <p role="status">Loading...</p>}
      {data && (
        <>
          <h2>Quotas</h2>
          <div className="gauges">
            {data.meters.map((m) => (
              <Gauge key={m.label} m={m} />
            ))}
          </div>
          <h2>Resources</h2>
          <ul className="cards">
            <li>
              <a href="#/networks">{data.networks} networks</a>
            </li>
            <li>
              <a href="#/networks">{data.fips} EIPs</a>
            </li>
            {data.invoice && (
              <li>
                <a href="#/billing">
                  {data.invoice.month}: {data.invoice.total} {data.invoice.currency} so far
                  {data.invoice.projected_total ? ` (projected ${data.invoice.projected_total})` : ""}
                </a>
              </li>
            )}
          </ul>
        </>
      )}
    </Page>
  );
}
