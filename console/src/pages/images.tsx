// Images (Glance v2): the images the project sees, public ones included.

import { call, paths } from "../api";
import { Alert, Page, Status, Table, bytes, isBusy, useLoad, useSession, when } from "../ui";

interface Image {
  id: string;
  name: string;
  status: string;
  visibility: string;
  disk_format: string;
  size: number | null;
  created_at: string;
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
          { title: "Size", cell: (r) => (r.size === null || r.size === undefined ? "" : bytes(r.size)) },
          { title: "Created", cell: (r) => when(r.created_at) },
        ]}
      />
    </Page>
  );
}
