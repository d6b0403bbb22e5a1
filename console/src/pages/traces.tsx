// Cloud Trace: the project's audit traces (every mutating call and sign-in), filtered by
// service, operation, user, resource and rating, over a chosen time window, paged.

import { useState } from "react";
import { call, paths } from "../api";
import { Alert, Page, Table, useLoad, useSession, when } from "../ui";

interface Trace {
  trace_id: string;
  time: number;
  service_type: string;
  trace_name: string;
  resource_type: string;
  resource_name: string;
  resource_id: string;
  trace_rating: string;
  code: string;
  user: { name: string };
  source_ip: string;
}

const WINDOWS: [string, number][] = [
  ["Last hour", 3600e3],
  ["Last day", 86400e3],
  ["Last 7 days", 7 * 86400e3],
];

export function Traces() {
  const s = useSession();
  const [filters, setFilters] = useState({ service_type: "", trace_name: "", user: "", resource_name: "", trace_rating: "" });
  const [applied, setApplied] = useState(filters);
  const [window_, setWindow] = useState(WINDOWS[1][1]);
  const [pages, setPages] = useState<string[]>([]);
  const marker = pages[pages.length - 1];
  const { data, error } = useLoad(async () => {
    const q = new URLSearchParams({ limit: "50", from: String(Date.now() - window_), to: String(Date.now()) });
    for (const [k, v] of Object.entries(applied)) if (v) q.set(k, v);
    if (marker) q.set("next", marker);
    return await call<{ traces: Trace[]; meta_data: { marker: string | null } }>(s, "GET", `${paths.traces(s)}?${q}`);
  }, [s.projectId, applied, window_, marker]);
  const input = (k: keyof typeof filters, label: string) => (
    <div className="field inline">
      <label htmlFor={`f-${k}`}>{label}</label>
      <input id={`f-${k}`} value={filters[k]} onChange={(e) => setFilters({ ...filters, [k]: e.target.value })} />
    </div>
  );
  return (
    <Page title="Cloud Trace">
      <form
        className="filters"
        aria-label="Filter traces"
        onSubmit={(e) => {
          e.preventDefault();
          setPages([]);
          setApplied(filters);
        }}
      >
        {input("service_type", "Service")}
        {input("trace_name", "Operation")}
        {input("user", "User")}
        {input("resource_name", "Resource")}
        <div className="field inline">
          <label htmlFor="f-rating">Rating</label>
          <select id="f-rating" value={filters.trace_rating} onChange={(e) => setFilters({ ...filters, trace_rating: e.target.value })}>
            <option value="">any</option>
            <option value="normal">normal</option>
            <option value="warning">warning</option>
            <option value="incident">incident</option>
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="f-window">Period</label>
          <select id="f-window" value={window_} onChange={(e) => setWindow(Number(e.target.value))}>
            {WINDOWS.map(([l, v]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      {error && <Alert>{error}</Alert>}
      <Table
        caption="Traces"
        rows={data?.traces ?? null}
        rowKey={(r) => r.trace_id}
        empty="No traces match."
        columns={[
          { title: "Time", cell: (r) => when(new Date(r.time).toISOString()) },
          { title: "Service", cell: (r) => r.service_type },
          { title: "Operation", cell: (r) => r.trace_name },
          { title: "Resource", cell: (r) => `${r.resource_type} ${r.resource_name || r.resource_id || ""}` },
          { title: "User", cell: (r) => r.user?.name },
          { title: "Code", cell: (r) => r.code },
          { title: "Rating", cell: (r) => <span className={`rating-${r.trace_rating}`}>{r.trace_rating}</span> },
        ]}
      />
      <div className="buttons">
        <button type="button" className="secondary" disabled={pages.length === 0} onClick={() => setPages(pages.slice(0, -1))}>
          Newer
        </button>
        <button type="button" className="secondary" disabled={!data?.meta_data.marker} onClick={() => setPages([...pages, data!.meta_data.marker!])}>
          Older
        </button>
      </div>
    </Page>
  );
}
