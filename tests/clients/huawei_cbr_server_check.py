"""Checks Nimbus's CBR server backups with the unmodified Huawei Cloud Python SDK
(huaweicloudsdkcbr v1): one server backup of a server whose disks were backed up together.

Run by the Rust integration test `server_backups_take_every_disk_at_one_instant` once the
server's checkpoint is available, as ``.venv/bin/python tests/clients/huawei_cbr_server_check.py``
with the environment ``huawei_evs_check.py`` reads plus:
  NIMBUS_SERVER_ID    the server backed up
  NIMBUS_VOLUME_IDS   its two data disks, comma-separated

The checks (SDK operation names):
  a. ListBackups(resource_type=OS::Nova::Server, resource_id=server): exactly one backup, the
     server as its resource, CBR's server provider id, the disks' sizes added up.
  b. ShowBackup of it: its children are the two disks' backups (OS::Cinder::Volume, the
     disks as their resources, available).
  c. ListBackups(resource_type=OS::Cinder::Volume) does not list the children apart.
  d. UpdateBackup renames it; ShowBackup shows the name on it and on every child.
  e. RestoreBackup of it to a disk (no server_id) -> 400.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``cbr-server: N passed, M failed``;
exits 1 if anything failed.
"""

import os
import sys

from huaweicloudsdkcbr.v1 import (
    BackupRestore,
    BackupRestoreReq,
    BackupUpdate,
    BackupUpdateReq,
    ListBackupsRequest,
    RestoreBackupRequest,
    ShowBackupRequest,
    UpdateBackupRequest,
)

from huawei_cbr_check import cbr_client
from huawei_evs_check import ENV, R, expect, ok_status, refused

SERVER = "OS::Nova::Server"
DISK = "OS::Cinder::Volume"
# CBR's fixed provider id of server backups.
SERVER_PROVIDER_ID = "0daac4c5-6707-4851-97ba-169e36266b66"
RENAMED = "hw-server-backup"

SERVER_ID = os.environ.get("NIMBUS_SERVER_ID", "")
VOLUME_IDS = [v for v in os.environ.get("NIMBUS_VOLUME_IDS", "").split(",") if v]


def check_listed(cbr):
    resp = cbr.list_backups(ListBackupsRequest(resource_type=SERVER, resource_id=SERVER_ID))
    ok_status(resp, "ListBackups")
    backups = resp.backups or []
    expect(len(backups) == 1 and resp.count == 1, f"one server backup, got {resp}")
    b = backups[0]
    expect(b.resource_type == SERVER and b.resource_id == SERVER_ID, f"the server as its resource: {b}")
    expect(b.provider_id == SERVER_PROVIDER_ID, f"provider id {b.provider_id}")
    expect(b.resource_size == 20, f"the disks' sizes added up: {b.resource_size}")
    expect(b.status == "available", f"status {b.status}")
    return b.id


def check_children(cbr, backup_id):
    resp = cbr.show_backup(ShowBackupRequest(backup_id=backup_id))
    ok_status(resp, "ShowBackup")
    children = resp.backup.children or []
    expect(len(children) == 2, f"two children, got {resp.backup}")
    for c in children:
        expect(c.resource_type == DISK, f"a disk's backup: {c}")
        expect(c.status == "available", f"child status {c.status}")
    disks = sorted(c.resource_id for c in children)
    expect(disks == sorted(VOLUME_IDS), f"the server's disks {VOLUME_IDS}, got {disks}")
    return [c.id for c in children]


def check_not_apart(cbr, children):
    resp = cbr.list_backups(ListBackupsRequest(resource_type=DISK))
    ok_status(resp, "ListBackups")
    listed = {b.id for b in resp.backups or []}
    expect(not listed & set(children), f"children listed apart: {listed & set(children)}")


def check_rename(cbr, backup_id):
    resp = cbr.update_backup(
        UpdateBackupRequest(backup_id=backup_id, body=BackupUpdateReq(backup=BackupUpdate(name=RENAMED)))
    )
    ok_status(resp, "UpdateBackup")
    expect(resp.backup.name == RENAMED, f"renamed: {resp.backup.name}")
    shown = cbr.show_backup(ShowBackupRequest(backup_id=backup_id)).backup
    names = [c.name for c in shown.children or []]
    expect(shown.name == RENAMED and names == [RENAMED, RENAMED], f"names {shown.name} {names}")


def check_restore_to_disk_refused(cbr, backup_id):
    body = BackupRestoreReq(restore=BackupRestore(volume_id=VOLUME_IDS[0]))
    return refused(lambda: cbr.restore_backup(RestoreBackupRequest(backup_id=backup_id, body=body)))


def main():
    missing = [name for name, value in ENV.items() if not value]
    if missing or not SERVER_ID or len(VOLUME_IDS) != 2:
        print("FAIL: missing environment variables (NIMBUS_*, NIMBUS_SERVER_ID, NIMBUS_VOLUME_IDS)")
        print("cbr-server: 0 passed, 1 failed")
        return 1
    cbr = R.run("CBR client builds", cbr_client)
    backup_id = cbr and R.run("CBR ListBackups(resource_type=OS::Nova::Server, resource_id)", check_listed, cbr)
    if backup_id:
        children = R.run("CBR ShowBackup: the disks' backups as children", check_children, cbr, backup_id)
        if children:
            R.run("CBR ListBackups(resource_type=OS::Cinder::Volume) leaves children out", check_not_apart, cbr,
                  children)
        R.run("CBR UpdateBackup renames the server backup and its children", check_rename, cbr, backup_id)
        R.run("CBR RestoreBackup of a server backup to a disk -> 400", check_restore_to_disk_refused, cbr, backup_id)
    print(f"cbr-server: {R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
