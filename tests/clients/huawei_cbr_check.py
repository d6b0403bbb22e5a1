"""Checks Nimbus's Cloud Backup and Recovery v3 API for disks with the unmodified Huawei Cloud
Python SDKs (huaweicloudsdkcbr v1, huaweicloudsdkevs v2 for the disks).

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_cbr_check.py``, with
the environment ``huawei_evs_check.py`` reads (it shares that script's helpers). The clients
are built with ``.with_endpoint(NIMBUS_ENDPOINT)``, so the SDKs never contact the real cloud.

The checks (SDK operation names):
  a. A 20 GB disk (EVS CreateVolume).
  b. CreateVault disk/backup/crash_consistent 100 GB: billing echoed, spec code, provider id;
     object_type "tape" -> 400; ShowVault; ListVault(object_type=disk) lists it.
  c. AddVaultResource binds the disk; ShowVault lists it.
  d. CreatePolicy (weekly, max_backups 5); FREQ=HOURLY -> 400; AssociateVaultPolicy; ShowPolicy
     and ListPolicies(vault_id) show the binding. ShowBackup of an unknown id -> 404.
  e. CreateCheckpoint backs the disk up now; ListBackups(checkpoint_id) until available;
     ShowBackup, ShowCheckpoint, ListBackups(vault_id), ListBackups(resource_id).
     ListBackups filters and order: resource_az, resource_name, image_type, incremental,
     start_time/end_time around now (and an hour ahead: nothing), sort, marker; a sort key
     CBR lacks, a time that is not one and limit 0 -> 400.
  f. EVS CreateVolume with backup_id restores to a new disk; RestoreBackup restores in place.
  g. DeleteBackup, DisassociateVaultPolicy, RemoveVaultResource, DeletePolicy, DeleteVault,
     each followed by 404 where the resource goes; the disks deleted.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``cbr: N passed, M failed``; exits 1 if
anything failed.
"""

import datetime
import sys
import uuid

from huaweicloudsdkcbr.v1 import (
    AddVaultResourceRequest,
    AssociateVaultPolicyRequest,
    BackupRestore,
    BackupRestoreReq,
    BillingCreate,
    CbrClient,
    CheckpointParam,
    CreateCheckpointRequest,
    CreatePolicyRequest,
    CreateVaultRequest,
    DeleteBackupRequest,
    DeletePolicyRequest,
    DeleteVaultRequest,
    DisassociateVaultPolicyRequest,
    ListBackupsRequest,
    ListPoliciesRequest,
    ListVaultRequest,
    PolicyCreate,
    PolicyCreateReq,
    PolicyoODCreate,
    PolicyTriggerPropertiesReq,
    PolicyTriggerReq,
    RemoveVaultResourceRequest,
    ResourceCreate,
    RestoreBackupRequest,
    ShowBackupRequest,
    ShowCheckpointRequest,
    ShowPolicyRequest,
    ShowVaultRequest,
    VaultAddResourceReq,
    VaultAssociate,
    VaultBackup,
    VaultBackupReq,
    VaultCreate,
    VaultCreateReq,
    VaultDissociate,
    VaultRemoveResourceReq,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials

from huawei_evs_check import (
    AK,
    ENDPOINT,
    ENV,
    PROJECT,
    SK,
    R,
    check_available,
    check_create,
    check_delete_volume,
    check_zones,
    create_volume_request,
    evs_client,
    expect,
    gone,
    ok_status,
    poll,
    refused,
    wait_job,
    wait_volume,
)

VAULT_NAME = "hw-vault"
POLICY_NAME = "hw-policy"
BACKUP_NAME = "hw-backup"
RESTORED_NAME = "hw-evs-from-backup"
WEEKLY = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=14;BYMINUTE=00"
DISK = "OS::Cinder::Volume"
# CBR's fixed provider id of disk backups and the spec code of a disk backup vault.
DISK_PROVIDER_ID = "d1603440-187d-4516-af25-121250c7cc97"
DISK_VAULT_SPEC = "vault.backup.volume.normal"


def vault_request(object_type="disk", size=100, name=VAULT_NAME):
    billing = BillingCreate(
        consistent_level="crash_consistent",
        object_type=object_type,
        protect_type="backup",
        size=size,
        charging_mode="post_paid",
        is_auto_renew=False,
        is_auto_pay=False,
    )
    vault = VaultCreate(name=name, description="hw check", billing=billing, resources=[])
    return CreateVaultRequest(body=VaultCreateReq(vault=vault))


def add_resource_request(vault_id, volume_id):
    return AddVaultResourceRequest(
        vault_id=vault_id, body=VaultAddResourceReq(resources=[ResourceCreate(id=volume_id, type=DISK)])
    )


def policy_request(pattern=WEEKLY, name=POLICY_NAME):
    policy = PolicyCreate(
        name=name,
        enabled=True,
        operation_type="backup",
        operation_definition=PolicyoODCreate(max_backups=5),
        trigger=PolicyTriggerReq(properties=PolicyTriggerPropertiesReq(pattern=[pattern])),
    )
    return CreatePolicyRequest(body=PolicyCreateReq(policy=policy))


def associate_request(vault_id, policy_id):
    return AssociateVaultPolicyRequest(vault_id=vault_id, body=VaultAssociate(policy_id=policy_id))


def checkpoint_request(vault_id, volume_id):
    params = CheckpointParam(
        auto_trigger=False, description="hw check backup", incremental=False, name=BACKUP_NAME, resources=[volume_id]
    )
    return CreateCheckpointRequest(body=VaultBackupReq(checkpoint=VaultBackup(vault_id=vault_id, parameters=params)))


def restore_request(backup_id, volume_id):
    return RestoreBackupRequest(backup_id=backup_id, body=BackupRestoreReq(restore=BackupRestore(volume_id=volume_id)))


def cbr_client():
    return (
        CbrClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoint(ENDPOINT)
        .build()
    )


def show_backup(cbr, backup_id):
    resp = cbr.show_backup(ShowBackupRequest(backup_id=backup_id))
    ok_status(resp, "ShowBackup")
    expect(resp.backup is not None and resp.backup.id == backup_id,
           f"ShowBackup {backup_id}: answered {getattr(resp.backup, 'id', None)!r}")
    return resp.backup


def show_vault(cbr, vault_id):
    resp = cbr.show_vault(ShowVaultRequest(vault_id=vault_id))
    ok_status(resp, "ShowVault")
    expect(resp.vault is not None and resp.vault.id == vault_id,
           f"ShowVault {vault_id}: answered {getattr(resp.vault, 'id', None)!r}")
    return resp.vault


# ------------------------------------------------------------------------------------------
# EVS


def check_vault(cbr, request):
    resp = cbr.create_vault(request)
    ok_status(resp, "CreateVault")
    v = resp.vault
    expect(v is not None and v.id, f"CreateVault: no vault id in {resp.raw_content[:300]!r}")
    b = v.billing
    expect(b is not None, "vault without billing")
    expect((b.object_type, b.protect_type, b.consistent_level, b.size) == ("disk", "backup", "crash_consistent", 100),
           f"billing object_type/protect_type/consistent_level/size = "
           f"{(b.object_type, b.protect_type, b.consistent_level, b.size)}")
    expect(b.status == "available", f"billing.status {b.status!r}, expected available")
    expect(b.charging_mode == "post_paid", f"billing.charging_mode {b.charging_mode!r}, expected post_paid")
    expect(b.spec_code == DISK_VAULT_SPEC, f"billing.spec_code {b.spec_code!r}, expected {DISK_VAULT_SPEC}")
    expect(isinstance(b.allocated, int) and isinstance(b.used, int), f"billing allocated {b.allocated!r} used {b.used!r}")
    expect(v.name == VAULT_NAME and v.project_id == PROJECT, f"name {v.name!r} project_id {v.project_id!r}")
    expect(v.provider_id == DISK_PROVIDER_ID, f"provider_id {v.provider_id!r}, expected {DISK_PROVIDER_ID}")
    expect(v.resources == [], f"resources {v.resources!r}, expected []")
    return v.id


def check_vault_listed(cbr, vault_id):
    v = show_vault(cbr, vault_id)
    expect(v.billing is not None and v.billing.size == 100, f"ShowVault billing {v.billing}")
    resp = cbr.list_vault(ListVaultRequest(object_type="disk"))
    ok_status(resp, "ListVault")
    expect(isinstance(resp.count, int), f"ListVault count {resp.count!r}")
    got = [x.id for x in resp.vaults or []]
    expect(vault_id in got, f"ListVault(object_type=disk) does not list {vault_id}: {got}")
    servers = cbr.list_vault(ListVaultRequest(object_type="server"))
    expect(vault_id not in [x.id for x in servers.vaults or []], "ListVault(object_type=server) lists the disk vault")
    return f"count={resp.count}"


def check_add_resource(cbr, vault_id, volume_id):
    resp = cbr.add_vault_resource(add_resource_request(vault_id, volume_id))
    ok_status(resp, "AddVaultResource")
    expect(resp.add_resource_ids == [volume_id], f"add_resource_ids {resp.add_resource_ids!r}, expected [{volume_id}]")
    v = show_vault(cbr, vault_id)
    got = [(r.id, r.type) for r in v.resources or []]
    expect(got == [(volume_id, DISK)], f"vault resources {got}, expected [({volume_id}, {DISK})]")
    r = v.resources[0]
    expect(r.protect_status in ("available", None), f"resource protect_status {r.protect_status!r}")
    expect(r.size in (None, 20), f"resource size {r.size!r}, expected the disk's 20 GB")
    return f"protect_status {r.protect_status}"


def check_policy(cbr, request):
    resp = cbr.create_policy(request)
    ok_status(resp, "CreatePolicy")
    p = resp.policy
    expect(p is not None and p.id, f"CreatePolicy: no policy id in {resp.raw_content[:300]!r}")
    expect((p.name, p.enabled, p.operation_type) == (POLICY_NAME, True, "backup"),
           f"name/enabled/operation_type = {(p.name, p.enabled, p.operation_type)}")
    expect(p.operation_definition is not None and p.operation_definition.max_backups == 5,
           f"operation_definition {p.operation_definition}")
    t = p.trigger
    expect(t is not None and t.properties is not None and t.properties.pattern == [WEEKLY],
           f"trigger {t}, expected pattern [{WEEKLY!r}]")
    expect(t.type == "time" and t.id, f"trigger type {t.type!r} id {t.id!r}, expected type 'time' and an id")
    return p.id


def check_associate(cbr, vault_id, policy_id):
    resp = cbr.associate_vault_policy(associate_request(vault_id, policy_id))
    ok_status(resp, "AssociateVaultPolicy")
    a = resp.associate_policy
    expect(a is not None and (a.vault_id, a.policy_id) == (vault_id, policy_id),
           f"associate_policy {a}, expected vault {vault_id} policy {policy_id}")
    p = cbr.show_policy(ShowPolicyRequest(policy_id=policy_id)).policy
    bound = [x.vault_id for x in (p.associated_vaults or [])]
    expect(bound == [vault_id], f"ShowPolicy associated_vaults {bound}, expected [{vault_id}]")
    listed = cbr.list_policies(ListPoliciesRequest(vault_id=vault_id))
    ok_status(listed, "ListPolicies")
    expect([x.id for x in listed.policies or []] == [policy_id],
           f"ListPolicies(vault_id) {[x.id for x in listed.policies or []]}, expected [{policy_id}]")


def check_checkpoint(cbr, vault_id, volume_id):
    resp = cbr.create_checkpoint(checkpoint_request(vault_id, volume_id))
    ok_status(resp, "CreateCheckpoint")
    c = resp.checkpoint
    expect(c is not None and c.id, f"CreateCheckpoint: no checkpoint id in {resp.raw_content[:300]!r}")
    expect(c.status in ("protecting", "available"), f"checkpoint status {c.status!r}")
    expect(c.vault is not None and c.vault.id == vault_id, f"checkpoint vault {c.vault}")
    expect(volume_id in [r.id for r in c.vault.resources or []], f"checkpoint resources {c.vault.resources}")
    expect(not c.vault.skipped_resources, f"skipped_resources {c.vault.skipped_resources}")
    expect(c.extra_info is not None and c.extra_info.name == BACKUP_NAME, f"extra_info {c.extra_info}")
    return c.id


def check_backup_done(cbr, vault_id, checkpoint_id, volume_id):
    def fetch():
        r = cbr.list_backups(ListBackupsRequest(checkpoint_id=checkpoint_id, vault_id=vault_id))
        ok_status(r, "ListBackups")
        return r.backups or []

    def status(backups):
        return backups[0].status if len(backups) == 1 else f"{len(backups)} backups"

    backups, seen = poll(f"backup of checkpoint {checkpoint_id}", fetch, status, "available",
                         {"protecting", "waiting_protect", "0 backups"})
    b = backups[0]
    expect((b.resource_id, b.resource_type, b.vault_id, b.checkpoint_id) == (volume_id, DISK, vault_id, checkpoint_id),
           f"backup resource_id/resource_type/vault_id/checkpoint_id = "
           f"{(b.resource_id, b.resource_type, b.vault_id, b.checkpoint_id)}")
    expect(b.resource_size == 20, f"backup resource_size {b.resource_size!r}, expected 20")
    expect(b.provider_id == DISK_PROVIDER_ID, f"backup provider_id {b.provider_id!r}, expected {DISK_PROVIDER_ID}")
    expect(b.image_type == "backup", f"image_type {b.image_type!r}, expected 'backup'")
    expect(b.name == BACKUP_NAME, f"backup name {b.name!r}, expected {BACKUP_NAME!r}")
    # BackupResp.created_at is a datetime in the SDK: an unparseable string stays a string.
    expect(isinstance(b.created_at, datetime.datetime),
           f"created_at {b.created_at!r} did not parse as a datetime (send e.g. 2020-02-05T10:38:34.209782)")
    expect(b.extend_info is not None and b.extend_info.auto_trigger is False,
           f"extend_info {b.extend_info}, expected auto_trigger false")
    return b.id, " -> ".join(seen)


def check_backup_views(cbr, vault_id, checkpoint_id, backup_id, volume_id):
    b = show_backup(cbr, backup_id)
    expect(b.status == "available" and b.resource_id == volume_id, f"ShowBackup status {b.status!r} resource {b.resource_id!r}")
    c = cbr.show_checkpoint(ShowCheckpointRequest(checkpoint_id=checkpoint_id)).checkpoint
    expect(c is not None and c.id == checkpoint_id and c.status == "available",
           f"ShowCheckpoint {checkpoint_id}: {getattr(c, 'status', None)!r}, expected available")
    listed = cbr.list_backups(ListBackupsRequest(vault_id=vault_id))
    expect(isinstance(listed.count, int) and listed.count >= 1, f"ListBackups(vault_id) count {listed.count!r}")
    expect(backup_id in [x.id for x in listed.backups or []], f"ListBackups(vault_id) does not list {backup_id}")
    by_disk = cbr.list_backups(ListBackupsRequest(resource_id=volume_id, resource_type=DISK))
    expect(backup_id in [x.id for x in by_disk.backups or []], "ListBackups(resource_id) does not list the backup")
    return f"count={listed.count}"


def check_backup_filters(cbr, backup_id, volume_id, az):
    def ids(**query):
        resp = cbr.list_backups(ListBackupsRequest(**query))
        ok_status(resp, "ListBackups")
        return [b.id for b in resp.backups or []]

    now = datetime.datetime.now(datetime.timezone.utc)
    hour = datetime.timedelta(hours=1)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    expect(backup_id in ids(resource_az=az, resource_name=volume_id, image_type="backup", incremental=False,
                            start_time=(now - hour).strftime(stamp), end_time=(now + hour).strftime(stamp),
                            sort="name:asc,created_at"),
           "ListBackups with matching filters does not list the backup")
    for what, query in [("incremental", {"incremental": True}), ("replication", {"image_type": "replication"}),
                        ("another zone", {"resource_az": "nowhere"}),
                        ("an hour ahead", {"start_time": (now + hour).strftime(stamp)}),
                        ("after itself", {"marker": backup_id, "sort": "id:asc"})]:
        expect(backup_id not in ids(**query), f"ListBackups({what}) lists the backup")
    for query in [{"sort": "size:asc"}, {"start_time": "yesterday"}, {"limit": 0}]:
        refused(lambda: cbr.list_backups(ListBackupsRequest(**query)))


def check_restore_new(evs, az, backup_id, created):
    resp = evs.create_volume(create_volume_request(size=20, name=RESTORED_NAME, az=az, backup_id=backup_id))
    ok_status(resp, "CreateVolume from backup", (200, 202))
    ids = list(resp.volume_ids or [])
    created.extend(ids)
    expect(resp.job_id and len(ids) == 1, f"CreateVolume from backup: job {resp.job_id!r} disks {ids}")
    note = wait_job(evs, resp.job_id, ("createVolume",), ids[0])
    v, seen = wait_volume(evs, ids[0])
    expect(v.size == 20 and v.name == RESTORED_NAME, f"restored disk size {v.size!r} name {v.name!r}")
    return ids[0], f"{note}; disk {' -> '.join(seen)}"


def check_restore_in_place(cbr, evs, backup_id, volume_id):
    resp = cbr.restore_backup(restore_request(backup_id, volume_id))
    ok_status(resp, "RestoreBackup", (200, 202))
    v, seen = wait_volume(evs, volume_id)
    expect(v.size == 20, f"disk size {v.size!r} after the restore, expected 20")
    b, bseen = poll(f"backup {backup_id}", lambda: show_backup(cbr, backup_id), lambda x: x.status, "available",
                    {"restoring", "waiting_restore"})
    return f"disk {' -> '.join(seen)}, backup {' -> '.join(bseen)}"


def check_delete_backup(cbr, backup_id):
    resp = cbr.delete_backup(DeleteBackupRequest(backup_id=backup_id))
    ok_status(resp, "DeleteBackup", (200, 202, 204))
    return gone(lambda: cbr.show_backup(ShowBackupRequest(backup_id=backup_id)), f"backup {backup_id}")


def check_unbind_policy(cbr, vault_id, policy_id):
    resp = cbr.disassociate_vault_policy(
        DisassociateVaultPolicyRequest(vault_id=vault_id, body=VaultDissociate(policy_id=policy_id)))
    ok_status(resp, "DisassociateVaultPolicy")
    d = resp.dissociate_policy
    expect(d is not None and (d.vault_id, d.policy_id) == (vault_id, policy_id), f"dissociate_policy {d}")


def check_delete_policy(cbr, policy_id):
    resp = cbr.delete_policy(DeletePolicyRequest(policy_id=policy_id))
    ok_status(resp, "DeletePolicy", (200, 204))
    return gone(lambda: cbr.show_policy(ShowPolicyRequest(policy_id=policy_id)), f"policy {policy_id}", wait=False)


def check_remove_resource(cbr, vault_id, volume_id):
    resp = cbr.remove_vault_resource(
        RemoveVaultResourceRequest(vault_id=vault_id, body=VaultRemoveResourceReq(resource_ids=[volume_id])))
    ok_status(resp, "RemoveVaultResource")
    expect(resp.remove_resource_ids == [volume_id], f"remove_resource_ids {resp.remove_resource_ids!r}")
    v = show_vault(cbr, vault_id)
    expect(not v.resources, f"vault resources after removal: {v.resources}")


def check_delete_vault(cbr, vault_id):
    resp = cbr.delete_vault(DeleteVaultRequest(vault_id=vault_id))
    ok_status(resp, "DeleteVault", (200, 202, 204))
    return gone(lambda: cbr.show_vault(ShowVaultRequest(vault_id=vault_id)), f"vault {vault_id}")


# ------------------------------------------------------------------------------------------


def run(evs, cbr, state):
    az = R.run("EVS CinderListAvailabilityZones names a zone", check_zones, evs)
    if az is None:
        return
    made = R.run("EVS CreateVolume 20 GB for the vault", check_create, evs, create_volume_request(size=20, az=az))
    if made is None:
        return
    vol = made[1]
    state["volumes"].append(vol)
    if R.run("EVS the disk is available", check_available, evs, vol, az, 20, "hw-evs") is None:
        return
    vault = R.run("CBR CreateVault (POST /v3/{project_id}/vaults) disk/backup/crash_consistent 100 GB",
                  check_vault, cbr, vault_request())
    R.run("CBR CreateVault with billing.object_type 'tape' -> 400", refused,
          lambda: cbr.create_vault(vault_request(object_type="tape", name="hw-vault-bad")))
    if vault is None:
        return
    state["vaults"].append(vault)
    R.run("CBR ShowVault and ListVault(object_type=disk)", check_vault_listed, cbr, vault)
    added = R.run("CBR AddVaultResource (POST /v3/{project_id}/vaults/{id}/addresources) binds the disk",
                  check_add_resource, cbr, vault, vol)
    policy = R.run(f"CBR CreatePolicy (POST /v3/{{project_id}}/policies) backup, {WEEKLY}, max_backups 5",
                   check_policy, cbr, policy_request())
    if policy is not None:
        state["policies"].append(policy)
        R.run("CBR AssociateVaultPolicy; ShowPolicy and ListPolicies show the binding",
              check_associate, cbr, vault, policy)
    R.run("CBR CreatePolicy with FREQ=HOURLY (only WEEKLY and DAILY exist) -> 400", refused,
          lambda: cbr.create_policy(policy_request(pattern="FREQ=HOURLY;INTERVAL=1;BYMINUTE=00", name="hw-hourly")))
    R.run("CBR ShowBackup of an unknown backup id -> 404", refused,
          lambda: cbr.show_backup(ShowBackupRequest(backup_id=str(uuid.uuid4()))), (404,))
    if added is None:
        return
    cp = R.run("CBR CreateCheckpoint (POST /v3/{project_id}/checkpoints) backs the disk up now",
               check_checkpoint, cbr, vault, vol)
    if cp is None:
        return
    done = R.run("CBR ListBackups(checkpoint_id) until the disk's backup is available",
                 check_backup_done, cbr, vault, cp, vol)
    if done is None:
        return
    backup, _ = done
    state["backups"].append(backup)
    R.run("CBR ShowBackup, ShowCheckpoint, ListBackups(vault_id), ListBackups(resource_id)",
          check_backup_views, cbr, vault, cp, backup, vol)
    R.run("CBR ListBackups filters (zone, resource name, type, incremental, period), sort and marker; bad ones -> 400",
          check_backup_filters, cbr, backup, vol, az)
    R.run("EVS CreateVolume with backup_id restores the backup to a new disk",
          check_restore_new, evs, az, backup, state["volumes"])
    R.run("CBR RestoreBackup (POST /v3/{project_id}/backups/{id}/restore) onto the detached disk",
          check_restore_in_place, cbr, evs, backup, vol)


def teardown(evs, cbr, state):
    """Every deletion is a check; what it deleted leaves the cleanup lists."""
    def delete(what, fn, kind, ident, *args):
        if R.run(what, fn, *args) is not None:
            state[kind].remove(ident)

    for backup in list(state["backups"]):
        delete("CBR DeleteBackup; ShowBackup -> 404", check_delete_backup, "backups", backup, cbr, backup)
    for vault in state["vaults"]:
        for policy in state["policies"]:
            R.run("CBR DisassociateVaultPolicy (POST /v3/{project_id}/vaults/{id}/dissociatepolicy)",
                  check_unbind_policy, cbr, vault, policy)
        for vol in state["volumes"][:1]:
            R.run("CBR RemoveVaultResource (POST /v3/{project_id}/vaults/{id}/removeresources)",
                  check_remove_resource, cbr, vault, vol)
    for policy in list(state["policies"]):
        delete("CBR DeletePolicy; ShowPolicy -> 404", check_delete_policy, "policies", policy, cbr, policy)
    for vault in list(state["vaults"]):
        delete("CBR DeleteVault; ShowVault -> 404", check_delete_vault, "vaults", vault, cbr, vault)
    for v in list(state["volumes"]):
        delete(f"EVS DeleteVolume {v}", check_delete_volume, "volumes", v, evs, v)


def main():
    missing = [name for name, value in ENV.items() if not value]
    if missing:
        print(f"FAIL: missing environment variables: {', '.join(missing)}")
        print("cbr: 0 passed, 1 failed")
        return 1
    evs = R.run("EVS client builds", evs_client)
    cbr = R.run("CBR client builds", cbr_client)
    if evs is None or cbr is None:
        print(f"cbr: {R.passed} passed, {R.failed} failed")
        return 1
    state = {"volumes": [], "vaults": [], "policies": [], "backups": []}
    run(evs, cbr, state)
    teardown(evs, cbr, state)
    print(f"cbr: {R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
