// Billing: spending per service over the months (a chart from the invoices), the invoices
// (the open one with its projection, issued ones), an invoice's lines, its CSV, reserved
// instances (reserve, cancel) and budgets.

import { useState } from "react";
import { call, downloadAs, type Session } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Reservation {
  id: string;
  flavor: string;
  current_flavor: string;
  term_years: number;
  payment: string;
  flexible: boolean;
  status: string;
  monthly_amount: string;
  upfront_amount: string | null;
  effective_from: string;
  ends_at: string;
  cancellation_fee: string | null;
}

function Subscribe(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [flavor, setFlavor] = useState("");
  const [years, setYears] = useState("1");
  const [payment, setPayment] = useState("no_upfront");
  const [flexible, setFlexible] = useState(false);
  const [error, setError] = useState<FieldError | null>(null);
  const flavors = useLoad(async () => (await call(s, "GET", "/compute/v2.1/flavors")).flavors as { id: string; name: string }[], []);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", "/v1/billing/reserved-instances", { flavor, term_years: Number(years), payment, flexible });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { flavor: ["flavor"], years: ["term", "year"], payment: ["payment", "upfront"] }));
    }
  };
  return (
    <Dialog title="Reserve an instance" onClose={props.onClose}>
      <form onSubmit={submit}>
        <Field label="Flavor" name="flavor" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} required value={flavor} onChange={(e) => setFlavor(e.target.value)}>
              <option value="">Choose a flavor</option>
              {(flavors.data ?? []).map((f) => (
                <option key={f.id} value={f.name}>
                  {f.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Term (years)" name="years" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={years} onChange={(e) => setYears(e.target.value)}>
              {["1", "2", "3", "5"].map((y) => (
                <option key={y}>{y}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Payment" name="payment" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={payment} onChange={(e) => setPayment(e.target.value)}>
              <option value="no_upfront">No upfront (monthly)</option>
              <option value="partial_upfront">Partial upfront (half now, the rest monthly)</option>
            </select>
          )}
        </Field>
        <div className="field">
          <label>
            <input type="checkbox" checked={flexible} onChange={(e) => setFlexible(e.target.checked)} /> Flexible (may move to another flavor of its family)
          </label>
        </div>
        <p className="hint">In force from the first day of next month; the current month stays pay-per-use.</p>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Reserve</button>
        </div>
      </form>
    </Dialog>
  );
}

interface Summary {
  id: string;
  month: string;
  status: string;
  total: string;
  currency: string;
  issued_at: string | null;
}
interface Line {
  project_name: string;
  service: string;
  resource_name: string;
  resource_id: string;
  item: string;
  charge_mode: string;
  quantity: string;
  unit: string;
  amount: string;
}
interface Invoice {
  month: string;
  status: string;
  currency: string;
  total: string;
  projected_total: string | null;
  as_of: string;
  regions: { region: string; subtotal: string; lines: Line[] }[];
}

const COLOURS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d"];

/** Spending per service and month as stacked bars (SVG, with a table for screen readers). */
function Chart(props: { invoices: Invoice[] }) {
  const months = [...props.invoices].reverse();
  const services = [...new Set(months.flatMap((i) => i.regions.flatMap((r) => r.lines.map((l) => l.service))))].sort();
  const sums = months.map((i) => {
    const m: Record<string, number> = {};
    for (const r of i.regions) for (const l of r.lines) m[l.service] = (m[l.service] ?? 0) + Number(l.amount);
    return m;
  });
  const max = Math.max(0.01, ...sums.map((m) => Object.values(m).reduce((a, b) => a + b, 0)));
  const W = 560,
    H = 200,
    bar = Math.min(60, (W - 40) / Math.max(1, months.length) - 10);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H + 30}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">Spending per service and month</title>
        {months.map((inv, i) => {
          let y = H;
          const x = 40 + i * (bar + 10);
          return (
            <g key={inv.month}>
              {services.map((svc, k) => {
                const h = ((sums[i][svc] ?? 0) / max) * (H - 10);
                y -= h;
                return h > 0 ? <rect key={svc} x={x} y={y} width={bar} height={h} fill={COLOURS[k % COLOURS.length]} /> : null;
              })}
              <text x={x + bar / 2} y={H + 18} textAnchor="middle" fontSize="11">
                {inv.month}
              </text>
            </g>
          );
        })}
        <line x1="36" y1={H} x2={W} y2={H} stroke="#888" />
        <text x="2" y="12" fontSize="11">
          {max.toFixed(2)}
        </text>
      </svg>
      <figcaption>
        <ul className="legend">
          {services.map((svc, k) => (
            <li key={svc}>
              <span className="swatch" style={{ background: COLOURS[k % COLOURS.length] }} aria-hidden="true" />
              {svc}
            </li>
          ))}
        </ul>
      </figcaption>
      <table className="sr-only">
        <caption>Spending per service and month</caption>
        <thead>
          <tr>
            <th scope="col">Month</th>
            {services.map((s) => (
              <th key={s} scope="col">
                {s}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {months.map((inv, i) => (
            <tr key={inv.month}>
              <th scope="row">{inv.month}</th>
              {services.map((s) => (
                <td key={s}>{(sums[i][s] ?? 0).toFixed(2)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function downloadCsv(s: Session, month: string) {
  return downloadAs(s, `/v1/billing/invoices/${month}?format=csv`, `invoice-${month}.csv`);
}

export function Billing() {
  const s = useSession();
  const [shown, setShown] = useState<string | null>(null);
  const [csvError, setCsvError] = useState<string | null>(null);
  const { data, error, reload } = useLoad(async () => {
    const list = (await call(s, "GET", "/v1/billing/invoices")).invoices as Summary[];
    const recent = await Promise.all(list.slice(0, 6).map((i) => call(s, "GET", `/v1/billing/invoices/${i.month}`).then((r) => r.invoice as Invoice)));
    type Budget = { id: string; name: string; amount: string; thresholds: number[] };
    const budgets: Budget[] = await call(s, "GET", "/v1/billing/budgets").then((r) => r.budgets as Budget[]);
    const reservations = (await call(s, "GET", "/v1/billing/reserved-instances")).reserved_instances as Reservation[];
    return { list, recent, budgets, reservations };
  }, [s.projectId]);
  const act = useAction();
  const [subscribing, setSubscribing] = useState(false);
  const invoice = data?.recent.find((i) => i.month === (shown ?? data.list[0]?.month));
  return (
    <Page title="Billing">
      {error && <Alert>{error}</Alert>}
      {csvError && <Alert>{csvError}</Alert>}
      {data && (
        <>
          <h2>Spending per service</h2>
          <Chart invoices={data.recent} />
          <h2>Invoices</h2>
          <Table
            caption="Invoices"
            rows={data.list}
            rowKey={(r) => r.id}
            columns={[
              { title: "Month", cell: (r) => r.month },
              { title: "Status", cell: (r) => <Status value={r.status} /> },
              { title: "Total", cell: (r) => `${r.total} ${r.currency}` },
              { title: "Issued", cell: (r) => when(r.issued_at) },
              {
                title: "Actions",
                cell: (r) => (
                  <div className="row-actions">
                    <button type="button" className="small" aria-label={`Show the invoice of ${r.month}`} onClick={() => setShown(r.month)}>
                      Show
                    </button>
                    <button type="button" className="small" aria-label={`Download the CSV of ${r.month}`} onClick={() => downloadCsv(s, r.month).catch((e) => setCsvError(e.message))}>
                      CSV
                    </button>
                  </div>
                ),
              },
            ]}
          />
          {invoice && (
            <>
              <h2>
                Invoice {invoice.month} ({invoice.status})
              </h2>
              <p>
                Total {invoice.total} {invoice.currency}
                {invoice.projected_total && `, projected to the month's end: ${invoice.projected_total} ${invoice.currency}`} (as of {when(invoice.as_of)})
              </p>
              {invoice.regions.map((r) => (
                <div key={r.region}>
                  <h3>
                    {r.region}: {r.subtotal} {invoice.currency}
                  </h3>
                  <Table
                    caption={`Lines of ${r.region}`}
                    rows={r.lines}
                    rowKey={(l) => `${l.resource_id}-${l.item}-${l.charge_mode}`}
                    columns={[
                      { title: "Project", cell: (l) => l.project_name },
                      { title: "Service", cell: (l) => l.service },
                      { title: "Resource", cell: (l) => l.resource_name || l.resource_id },
                      { title: "Item", cell: (l) => l.item },
                      { title: "Mode", cell: (l) => l.charge_mode },
                      { title: "Quantity", cell: (l) => `${l.quantity} ${l.unit}` },
                      { title: "Amount", cell: (l) => l.amount },
                    ]}
                  />
                </div>
              ))}
            </>
          )}
          <h2>Reserved instances</h2>
          {act.error && <Alert>{act.error}</Alert>}
          <div className="buttons">
            <button type="button" className="secondary" onClick={() => setSubscribing(true)}>
              Reserve an instance
            </button>
          </div>
          <Table
            caption="Reserved instances"
            rows={data.reservations}
            rowKey={(r) => r.id}
            empty="No reserved instances."
            columns={[
              { title: "Flavor", cell: (r) => r.current_flavor ?? r.flavor },
              { title: "Status", cell: (r) => <Status value={r.status} /> },
              { title: "Term", cell: (r) => `${r.term_years} y, ${r.payment.replace("_", " ")}${r.flexible ? ", flexible" : ""}` },
              { title: "Monthly", cell: (r) => r.monthly_amount },
              { title: "Upfront", cell: (r) => r.upfront_amount ?? "" },
              { title: "From / to", cell: (r) => `${when(r.effective_from)} - ${when(r.ends_at)}` },
              {
                title: "Actions",
                cell: (r) =>
                  r.status !== "cancelled" &&
                  r.status !== "ended" && (
                    <button
                      type="button"
                      className="small danger"
                      aria-label={`Cancel the reservation of ${r.flavor}`}
                      onClick={() => {
                        if (window.confirm("Cancel this reservation? A fee of 12% of the monthly amounts still due applies."))
                          act.run(() => call(s, "POST", `/v1/billing/reserved-instances/${r.id}/cancel`, {})).then(reload);
                      }}
                    >
                      Cancel
                    </button>
                  ),
              },
            ]}
          />
          <h2>Budgets</h2>
          <Table
            caption="Budgets"
            rows={data.budgets}
            rowKey={(b) => b.id}
            empty="No budgets (nimbus billing budget create)."
            columns={[
              { title: "Name", cell: (b) => b.name },
              { title: "Amount", cell: (b) => b.amount },
              { title: "Alert at", cell: (b) => (b.thresholds ?? []).map((t) => `${t}%`).join(", ") },
            ]}
          />
        </>
      )}
      {subscribing && (
        <Subscribe
          onClose={() => setSubscribing(false)}
          onDone={() => {
            setSubscribing(false);
            reload();
          }}
        />
      )}
    </Page>
  );
}
