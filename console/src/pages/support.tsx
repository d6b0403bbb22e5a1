// Support: the account's plan beside the plans on offer, named contacts, tickets (open one
// with the reporting model's fields, follow its clocks and timeline, comment, confirm or
// reopen), change notices, and the engineers invited into the account's projects.

import { useState } from "react";
import { call } from "../api";
import { Alert, Dialog, Field, FormError, Page, Status, Table, errorField, useAction, useLoad, useSession, when, type FieldError } from "../ui";

interface Plan {
  name: string;
  title: string;
  named_contacts: number;
  minimum_months: number;
  support_location: string;
  response_objectives: Record<string, { minutes: number; hours: string } | null>;
}
interface Contact {
  id: string;
  user_id: string;
  last_name: string;
  first_name: string;
  email: string;
  phone: string;
}
interface Ticket {
  id: string;
  number: number;
  subject: string;
  category: string;
  status: string;
  priority: string;
  opened_at: string;
  clocks: Record<string, string | boolean | null>;
  timeline: { at: string; actor: string; side: string; kind: string; text: string }[];
  report: Record<string, string>;
}

// The reporting model's fields: [key, label, for incidents only].
const REPORT: [string, string, boolean][] = [
  ["company_name", "Company", false],
  ["reporter_name", "Your name", false],
  ["reporter_position", "Your position", false],
  ["reporter_email", "Your email", false],
  ["reporter_phone", "Your phone", false],
  ["user_name", "Affected user's name", false],
  ["user_email", "Affected user's email", false],
  ["service", "Service (ECS, EVS, VPC, OBS...)", false],
  ["component", "Component", false],
  ["occurred_at", "When it happened (ISO date and time)", false],
  ["api_login", "API login used", true],
  ["api_url", "API URL called", true],
  ["source_ip", "Source IP address", true],
  ["error_code", "Error code (optional)", false],
];

function minutes(o: { minutes: number; hours: string } | null): string {
  if (!o) return "-";
  const t = o.minutes >= 60 ? `${o.minutes / 60} h` : `${o.minutes} min`;
  return `${t} ${o.hours === "24x7" ? "24/7" : "working hours"}`;
}

function OpenTicket(props: { onClose: () => void; onDone: (id: string) => void }) {
  const s = useSession();
  const [category, setCategory] = useState("incident");
  const [criticality, setCriticality] = useState("minor");
  const [subject, setSubject] = useState("");
  const [resources, setResources] = useState("");
  const [description, setDescription] = useState("");
  const [report, setReport] = useState<Record<string, string>>({ occurred_at: new Date().toISOString().slice(0, 19) + "Z" });
  const [error, setError] = useState<FieldError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const fields: Record<string, string> = { ...report, description };
      for (const k of Object.keys(fields)) if (!fields[k]) delete fields[k];
      const t = await call(s, "POST", "/v1/support/tickets", {
        project_id: s.projectId,
        category,
        perceived_criticality: criticality,
        subject,
        resource_ids: resources.split(/[\s,]+/).filter(Boolean),
        report: fields,
      });
      props.onDone(t.ticket.id);
    } catch (err) {
      // Messages name the field in quotes: 'reporter_email'.
      const named = Object.fromEntries(REPORT.map(([k]) => [k, [`'${k}'`, ` ${k} `]]));
      setError(
        errorField(err, {
          ...named,
          description: ["'description'"],
          resources: ["resource_ids"],
          subject: ["subject"],
          category: ["category"],
          criticality: ["criticality"],
        }),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Open a ticket" onClose={props.onClose}>
      <form onSubmit={submit} className="ticket-form">
        <Field label="Category" name="category" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={category} onChange={(e) => setCategory(e.target.value)}>
              <option value="incident">Incident</option>
              <option value="problem">Problem</option>
              <option value="request">Request</option>
              <option value="information">Information</option>
            </select>
          )}
        </Field>
        <Field label="Perceived criticality" name="criticality" error={error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={criticality} onChange={(e) => setCriticality(e.target.value)}>
              <option value="critical">Critical</option>
              <option value="major">Major</option>
              <option value="minor">Minor</option>
            </select>
          )}
        </Field>
        <Field label="Subject" name="subject" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={subject} onChange={(e) => setSubject(e.target.value)} />}
        </Field>
        <Field label="Resource ids (comma separated)" name="resources" error={error}>
          {(id, d) => <input id={id} aria-describedby={d} value={resources} onChange={(e) => setResources(e.target.value)} />}
        </Field>
        {REPORT.filter(([, , inc]) => !inc || category === "incident").map(([k, label]) => (
          <Field key={k} label={label} name={k} error={error}>
            {(id, d) => <input id={id} aria-describedby={d} value={report[k] ?? ""} onChange={(e) => setReport({ ...report, [k]: e.target.value })} />}
          </Field>
        ))}
        <Field label="Description" name="description" error={error}>
          {(id, d) => <textarea id={id} aria-describedby={d} rows={4} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
        <FormError error={error} />
        <div className="buttons">
          <button type="submit" disabled={busy}>
            {busy ? "Opening..." : "Open ticket"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function TicketPage(props: { id: string }) {
  const s = useSession();
  const act = useAction();
  const [comment, setComment] = useState("");
  const { data, error, reload } = useLoad(async () => (await call(s, "GET", `/v1/support/tickets/${props.id}`)).ticket as Ticket, [props.id]);
  const action = (body: unknown) => act.run(() => call(s, "POST", `/v1/support/tickets/${props.id}/actions`, body)).then(reload);
  return (
    <Page title={data ? `Ticket #${data.number}: ${data.subject}` : "Ticket"} actions={<a href="#/support">All tickets</a>}>
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      {data && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Status value={data.status} />
            </dd>
            <dt>Priority</dt>
            <dd>{data.priority}</dd>
            <dt>Category</dt>
            <dd>{data.category}</dd>
            <dt>Opened</dt>
            <dd>{when(data.opened_at)}</dd>
            {Object.entries(data.clocks)
              .filter(([, v]) => v !== null && v !== false)
              .map(([k, v]) => (
                <div key={k} className="fact">
                  <dt>{k.replace(/_/g, " ")}</dt>
                  <dd>{v === true ? <Status value="breached" /> : when(v as string)}</dd>
                </div>
              ))}
          </dl>
          {data.status === "resolved" && (
            <div className="buttons">
              <button type="button" onClick={() => action({ action: "confirm" })}>
                Confirm the resolution
              </button>
              <button type="button" className="secondary" onClick={() => action({ action: "reopen", reason: "Not solved." })}>
                Reopen
              </button>
            </div>
          )}
          <h2>Timeline</h2>
          <ol className="timeline">
            {data.timeline.map((e, i) => (
              <li key={i}>
                <time dateTime={e.at}>{when(e.at)}</time> <strong>{e.side}</strong> {e.kind.replace(/_/g, " ")}
                {e.text && `: ${e.text}`}
              </li>
            ))}
          </ol>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              act.run(() => call(s, "POST", `/v1/support/tickets/${props.id}/comments`, { text: comment })).then(() => {
                setComment("");
                reload();
              });
            }}
          >
            <Field label="Add a comment" name="comment">
              {(id) => <textarea id={id} rows={3} required value={comment} onChange={(e) => setComment(e.target.value)} />}
            </Field>
            <button type="submit">Comment</button>
          </form>
        </>
      )}
    </Page>
  );
}

function AddContact(props: { onClose: () => void; onDone: () => void }) {
  const s = useSession();
  const [c, setC] = useState({ last_name: "", first_name: "", position: "", email: "", phone: "", availability: "Mon-Fri 09:00-19:00" });
  const [error, setError] = useState<FieldError | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(s, "POST", "/v1/support/contacts", { user_id: s.userId, ...c });
      props.onDone();
    } catch (err) {
      setError(errorField(err, { email: ["email"], phone: ["phone"], last_name: ["last name", "last_name"], first_name: ["first_name", "first name"] }));
    }
  };
  const input = (k: keyof typeof c, label: string) => (
    <Field label={label} name={k} error={error}>
      {(id, d) => <input id={id} aria-describedby={d} value={c[k]} onChange={(e) => setC({ ...c, [k]: e.target.value })} />}
    </Field>
  );
  return (
    <Dialog title="Become a named contact" onClose={props.onClose}>
      <form onSubmit={submit}>
        {input("last_name", "Last name")}
        {input("first_name", "First name")}
        {input("position", "Position")}
        {input("email", "Email")}
        {input("phone", "Phone")}
        {input("availability", "Availability")}
        <FormError error={error} />
        <div className="buttons">
          <button type="submit">Add contact</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Support() {
  const id = window.location.hash.split("/")[2];
  return id ? <TicketPage id={id} /> : <SupportList />;
}

function SupportList() {
  const s = useSession();
  const act = useAction();
  const [dialog, setDialog] = useState<"ticket" | "contact" | null>(null);
  const { data, error, reload } = useLoad(async () => {
    const [plans, sub, contacts, tickets, notices, invitations] = await Promise.all([
      call(s, "GET", "/v1/support/plans"),
      call(s, "GET", "/v1/support/subscription"),
      call(s, "GET", "/v1/support/contacts"),
      call(s, "GET", "/v1/support/tickets"),
      call(s, "GET", "/v1/support/notices"),
      call(s, "GET", "/v1/support/invitations"),
    ]);
    return {
      plans: plans.plans as Plan[],
      sub: sub.subscription,
      contacts: contacts.contacts as Contact[],
      tickets: tickets.tickets as Ticket[],
      notices: notices.notices as { id: string; kind: string; title: string; starts_at: string; interruption_minutes: number; services: string[] }[],
      invitations: invitations.invitations as { id: string; engineer_id: string; project_id: string; expires_at: string; status: string }[],
    };
  }, [s.projectId]);
  return (
    <Page
      title="Support"
      actions={
        <button type="button" onClick={() => setDialog("ticket")}>
          Open ticket
        </button>
      }
    >
      {error && <Alert>{error}</Alert>}
      {act.error && <Alert>{act.error}</Alert>}
      <h2>Tickets</h2>
      <Table
        caption="Tickets"
        rows={data?.tickets ?? null}
        rowKey={(t) => t.id}
        empty="No tickets."
        columns={[
          { title: "Number", cell: (t) => <a href={`#/support/${t.id}`}>#{t.number}</a> },
          { title: "Subject", cell: (t) => t.subject },
          { title: "Status", cell: (t) => <Status value={t.status} /> },
          { title: "Priority", cell: (t) => t.priority },
          { title: "Response due", cell: (t) => (t.clocks.response_breached ? <Status value="breached" /> : when(t.clocks.response_due as string)) },
          { title: "Opened", cell: (t) => when(t.opened_at) },
        ]}
      />
      {data && (
        <>
          <h2>Plan</h2>
          <p>
            Your account is on <strong>{data.sub.plan}</strong>
            {data.sub.pending && `, ${data.sub.pending.plan} from ${when(data.sub.pending.effective_from)}`}
            {data.sub.minimum_until && ` (minimum period until ${when(data.sub.minimum_until)})`}.
          </p>
          <Table
            caption="Support plans"
            rows={data.plans}
            rowKey={(p) => p.name}
            columns={[
              { title: "Plan", cell: (p) => p.title },
              { title: "Named contacts", cell: (p) => p.named_contacts },
              { title: "P1 response", cell: (p) => minutes(p.response_objectives.P1) },
              { title: "P3 response", cell: (p) => minutes(p.response_objectives.P3) },
              { title: "Location", cell: (p) => p.support_location },
              {
                title: "Actions",
                cell: (p) =>
                  p.name !== data.sub.plan && (
                    <button
                      type="button"
                      className="small"
                      aria-label={`Subscribe to ${p.title}`}
                      onClick={() => act.run(() => call(s, "PUT", "/v1/support/subscription", { plan: p.name })).then(reload)}
                    >
                      Subscribe
                    </button>
                  ),
              },
            ]}
          />
          <h2>Change notices</h2>
          <Table
            caption="Change notices"
            rows={data.notices}
            rowKey={(n) => n.id}
            empty="No notices."
            columns={[
              { title: "Starts", cell: (n) => when(n.starts_at) },
              { title: "Kind", cell: (n) => n.kind.replace(/_/g, " ") },
              { title: "Title", cell: (n) => n.title },
              { title: "Services", cell: (n) => n.services.join(", ") },
              { title: "Interruption", cell: (n) => (n.interruption_minutes ? `${n.interruption_minutes} min` : "none") },
            ]}
          />
          <h2>Engineers invited</h2>
          <Table
            caption="Engineer invitations"
            rows={data.invitations}
            rowKey={(i) => i.id}
            empty="No engineer is invited into your projects (nimbus support engineer invite)."
            columns={[
              { title: "Engineer", cell: (i) => i.engineer_id },
              { title: "Status", cell: (i) => <Status value={i.status} /> },
              { title: "Until", cell: (i) => when(i.expires_at) },
              {
                title: "Actions",
                cell: (i) =>
                  i.status === "active" && (
                    <button
                      type="button"
                      className="small danger"
                      aria-label={`End the invitation of ${i.engineer_id}`}
                      onClick={() => act.run(() => call(s, "DELETE", `/v1/support/invitations/${i.id}`)).then(reload)}
                    >
                      End now
                    </button>
                  ),
              },
            ]}
          />
          <h2>Named contacts</h2>
          <div className="buttons">
            <button type="button" className="secondary" onClick={() => setDialog("contact")}>
              Add me as a named contact
            </button>
          </div>
          <Table
            caption="Named contacts"
            rows={data.contacts}
            rowKey={(c) => c.id}
            empty="No named contacts: only named contacts open tickets."
            columns={[
              { title: "Name", cell: (c) => `${c.first_name} ${c.last_name}` },
              { title: "Email", cell: (c) => c.email },
              { title: "Phone", cell: (c) => c.phone },
            ]}
          />
        </>
      )}
      {dialog === "ticket" && (
        <OpenTicket
          onClose={() => setDialog(null)}
          onDone={(tid) => {
            setDialog(null);
            window.location.hash = `#/support/${tid}`;
          }}
        />
      )}
      {dialog === "contact" && (
        <AddContact
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            reload();
          }}
        />
      )}
    </Page>
  );
}
