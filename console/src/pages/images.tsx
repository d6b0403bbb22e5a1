// Images (Glance v2): the images the project sees, public ones included.

import { call, paths } from "../api";
import { Alert, Page, Status, Table, isBusy, useLoad, useSession, when } from "../ui";

interface Image {
  id: string;
  name: string;
  status: string;
  visibility: string;
  disk_format: string;
  size: number | null;
  created_at: string;
}

function size(b: number | null): string {
  if (b === null || b === undefined) return "";
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(1)} GiB`;
  return `${(b / (1 << 20)).toFixed(1)} MiB`;
}

export function Images() {
  const s = useSession();
  const { data, error } = useLoad(
    async () => (await call(s, "GET", `${paths.image}/images`)).images as Image[],
    [s.projectId],
    (list) => list.some((i) => isBusy(i.status)),
  );
  return (
    <Page title="Images">
      {error && <Alert>{error}</Alert>}
      <Table
        caption="Images"
        rows={data}
        rowKey={(r) => r.id}
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Status", cell: (r) => <Status value={r.status} /> },
          { title: "Visibility", cell: (r) => r.visibility },
          { title: "Format", cell: (r) => r.disk_format },
          { title: "Size", cell: (r) => size(r.size) },
          { title: "Created", cell: (r) => when(r.created_at) },
        ]}
      />
    </Page>
  );
}
