"""Checks Nimbus's native Elastic Volume Service API (v2 / v2.1) with the unmodified Huawei
Cloud Python SDK (huaweicloudsdkevs v2).

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_evs_check.py``. The
client is built with ``.with_endpoint(NIMBUS_ENDPOINT)``, never ``with_region``, so the SDK
makes no discovery calls and never contacts the real cloud.

Environment:
  NIMBUS_ENDPOINT        http://127.0.0.1:PORT                                   (required)
  NIMBUS_ACCESS_KEY      the admin's access key                                  (required)
  NIMBUS_SECRET_KEY      the admin's secret key                                  (required)
  NIMBUS_PROJECT_ID      the admin project's id                                  (required)
  NIMBUS_VOLUME_TYPE     disk type of the test disks (default ``SSD``)
  NIMBUS_JOB_TIMEOUT     seconds to wait for one job or disk (default 600)
  NIMBUS_POLL_INTERVAL   seconds between two polls (default 2)

The checks (SDK operation names):
  a. CinderListAvailabilityZones, CinderListVolumeTypes (the type is listed).
  b. CreateVolume (``POST /v2.1/{project_id}/cloudvolumes``) 10 GB, bssParam postPaid, metadata
     ``create_for_volume_id=true``, X-Client-Token: job_id and one volume id; the same request with
     the same token answers the same job and disk.
  c. ShowJob until SUCCESS (job_type createVolume, the disk's id in the entities); ShowVolume:
     available, 10 GB, type, AZ, not bootable, not attached.
  d. ListVolumes (``/cloudvolumes/detail``): listed; name/status filters; limit=1 keeps the total count.
  e. UpdateVolume renames (the answer is the flat disk); ResizeVolume (``os-extend``) to 20 GB through
     an extendVolume job.
  f. Errors, each a 4xx with an error code in the body: size 5 and 32769 (data disks are
     10-32768 GB), unknown volume type, rename with neither name nor description, shrink 20 -> 15,
     ShowVolume of an unknown id (404).
  g. Snapshots: CreateSnapshot, ShowSnapshot until available (the disk's size), ListSnapshots
     by volume_id, UpdateSnapshot renames; a disk with a snapshot cannot be deleted (400);
     RollbackSnapshot puts the disk back; CreateVolume from the snapshot; DeleteSnapshot, then 404.
  h. DeleteVolume: a deleteVolume job SUCCESS, then 404 and not listed.
  i. Tags: the disk is created with tag ``team=storage``; BatchCreateVolumeTags adds two (one
     replacing team's value), ShowVolumeTags and ShowVolume show three, ListVolumeTags gives each
     key's values, ListVolumesByTags (filter and count) finds the disk by tag and name and not by a
     value it lacks, BatchDeleteVolumeTags removes one; refused: an 11th tag, a key with a space,
     deleting a tag the disk lacks.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``evs: N passed, M failed``; exits 1 if
anything failed.
"""

import os
import sys
import time
import traceback
import uuid

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    SdkException,
    ServiceResponseException,
)
from huaweicloudsdkevs.v2 import (
    BatchCreateVolumeTagsRequest,
    BatchCreateVolumeTagsRequestBody,
    BatchDeleteVolumeTagsRequest,
    BatchDeleteVolumeTagsRequestBody,
    DeleteTagsOption,
    ListVolumeTagsRequest,
    ListVolumesByTagsRequest,
    ListVolumesByTagsRequestBody,
    Match,
    ShowVolumeTagsRequest,
    Tag,
    TagsForListVolumes,
    BssParamForCreateVolume,
    CinderListAvailabilityZonesRequest,
    CinderListVolumeTypesRequest,
    CreateSnapshotOption,
    CreateSnapshotRequest,
    CreateSnapshotRequestBody,
    CreateVolumeOption,
    CreateVolumeRequest,
    CreateVolumeRequestBody,
    DeleteSnapshotRequest,
    DeleteVolumeRequest,
    EvsClient,
    ListSnapshotsRequest,
    ListVolumesRequest,
    OsExtend,
    ResizeVolumeRequest,
    ResizeVolumeRequestBody,
    RollbackSnapshotOption,
    RollbackSnapshotRequest,
    RollbackSnapshotRequestBody,
    ShowJobRequest,
    ShowSnapshotRequest,
    ShowVolumeRequest,
    UpdateSnapshotOption,
    UpdateSnapshotRequest,
    UpdateSnapshotRequestBody,
    UpdateVolumeOption,
    UpdateVolumeRequest,
    UpdateVolumeRequestBody,
)

REQUIRED = (
    "NIMBUS_ENDPOINT",
    "NIMBUS_ACCESS_KEY",
    "NIMBUS_SECRET_KEY",
    "NIMBUS_PROJECT_ID",
)
ENV = {name: os.environ.get(name, "") for name in REQUIRED}
ENDPOINT = ENV["NIMBUS_ENDPOINT"]
AK = ENV["NIMBUS_ACCESS_KEY"]
SK = ENV["NIMBUS_SECRET_KEY"]
PROJECT = ENV["NIMBUS_PROJECT_ID"]
AZ_ENV = os.environ.get("NIMBUS_AZ") or None
VOLUME_TYPE = os.environ.get("NIMBUS_VOLUME_TYPE") or "SSD"
JOB_TIMEOUT = float(os.environ.get("NIMBUS_JOB_TIMEOUT") or 600)
POLL = float(os.environ.get("NIMBUS_POLL_INTERVAL") or 2)

NAME = "hw-evs"
RENAMED = "hw-evs-renamed"
SNAP_NAME = "hw-evs-snap"


class CheckFailed(Exception):
    """A failed expectation; the message says what was expected and what came back."""


class Results:
    """Counts checks and prints one line per check."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        print(f"ok: {what}", flush=True)

    def fail(self, what, detail):
        self.failed += 1
        print(f"FAIL: {what}: {detail}", flush=True)

    def run(self, what, fn, *args, **kwargs):
        """Runs one check; returns its result, or None if it failed (the failure is counted)."""
        try:
            result = fn(*args, **kwargs)
        except CheckFailed as e:
            self.fail(what, e)
            return None
        except ServiceResponseException as e:
            self.fail(what, f"unexpected API error {describe_error(e)}")
            return None
        except SdkException as e:  # connection refused, timeouts: the message says it all
            self.fail(what, f"unexpected {type(e).__name__}: {e.error_msg}")
            return None
        except Exception as e:  # SDK deserialization errors, connection errors, bugs
            tb = traceback.format_exc(limit=4).strip().replace("\n", "\n    ")
            self.fail(what, f"unexpected {type(e).__name__}: {e}\n    {tb}")
            return None
        # Checks may return a short note (e.g. the status an expected error had) for the log.
        # A check that returns only data (ids) prints no note.
        self.ok(f"{what} ({result})" if isinstance(result, str) else what)
        return result

    def skip(self, what, reason):
        """A check that cannot run because an earlier one failed counts as failed."""
        self.fail(what, f"skipped: {reason}")


R = Results()


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def describe_error(e):
    return (
        f"status={e.status_code} error_code={e.error_code!r} error_msg={e.error_msg!r} "
        f"request_id={e.request_id!r}"
    )


def expect_client_error(call, statuses=None):
    """Runs `call`, which must raise a ClientRequestException (4xx) carrying an error code and
    message; `statuses` narrows the accepted status codes. Returns the exception."""
    try:
        resp = call()
    except ClientRequestException as e:
        expect(400 <= e.status_code < 500, f"expected a 4xx, got {describe_error(e)}")
        if statuses is not None:
            expect(e.status_code in statuses, f"expected status {statuses}, got {describe_error(e)}")
        expect(e.error_code and e.error_msg, f"error without error_code/error_msg: {describe_error(e)}")
        # The SDK falls back to the status as error_code when the body carries none. EVS answers
        # {"error": {"code": "EVS.1010", "message": ...}}, CBR {"error_code": ..., "error_msg": ...};
        # the SDK reads both.
        expect(str(e.error_code) != str(e.status_code),
               f"no error code in the body (the SDK substituted the status): {describe_error(e)}")
        return e
    except ServiceResponseException as e:
        raise CheckFailed(f"expected a 4xx ClientRequestException, got {describe_error(e)}")
    raise CheckFailed(f"expected a 4xx error, the call succeeded: {str(resp)[:300]}")


def refused(call, statuses=(400,)):
    e = expect_client_error(call, list(statuses))
    return f"{e.status_code} {e.error_code}"


def gone(show, what, wait=True):
    """`show()` must end in a 404 with an error code; while `wait`, a 200 (still deleting) is polled."""
    deadline = time.monotonic() + JOB_TIMEOUT
    seen = []
    while True:
        try:
            resp = show()
        except ClientRequestException as e:
            expect(e.status_code == 404, f"{what}: expected 404, got {describe_error(e)}")
            expect(e.error_code and str(e.error_code) != "404", f"{what}: 404 without an error code in the body")
            return f"404 {e.error_code}" + (f" after {' -> '.join(seen)}" if seen else "")
        status = status_of(resp)
        if not seen or seen[-1] != status:
            seen.append(str(status))
        expect(wait and time.monotonic() < deadline, f"{what} still shown (status {status!r}) after deletion")
        time.sleep(POLL)


def status_of(resp):
    """The status a ShowVolume answer reports, for the log of `gone`."""
    inner = getattr(resp, "volume", None)
    return inner.status if inner is not None else "shown"


def create_volume_request(size=10, volume_type=VOLUME_TYPE, name=NAME, az="", client_token=None,
                          backup_id=None, snapshot_id=None, tags=None):
    """CreateVolume (v2.1). `create_for_volume_id=true` asks Huawei to answer the new ids in
    `volume_ids` (without it only the job id comes back)."""
    volume = CreateVolumeOption(
        availability_zone=az,
        size=size,
        volume_type=volume_type,
        name=name,
        description="created by huawei_evs_check.py",
        metadata={"create_for_volume_id": "true"},
        multiattach=False,
        count=1,
        backup_id=backup_id,
        snapshot_id=snapshot_id,
        tags=tags,
    )
    body = CreateVolumeRequestBody(volume=volume, bss_param=BssParamForCreateVolume(charging_mode="postPaid"))
    return CreateVolumeRequest(x_client_token=client_token, body=body)


def rename_request(volume_id, name=RENAMED, description="renamed by huawei_evs_check.py"):
    return UpdateVolumeRequest(
        volume_id=volume_id, body=UpdateVolumeRequestBody(volume=UpdateVolumeOption(name=name, description=description))
    )


def resize_request(volume_id, new_size):
    return ResizeVolumeRequest(volume_id=volume_id, body=ResizeVolumeRequestBody(os_extend=OsExtend(new_size=new_size)))


def evs_client():
    return (
        EvsClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoint(ENDPOINT)
        .build()
    )


def ok_status(resp, what, codes=(200,)):
    expect(resp.status_code in codes, f"{what}: status {resp.status_code}, expected {' or '.join(map(str, codes))}")


def show_volume(evs, volume_id):
    resp = evs.show_volume(ShowVolumeRequest(volume_id=volume_id))
    ok_status(resp, "ShowVolume")
    expect(resp.volume is not None, f"ShowVolume {volume_id}: no 'volume' object in the answer")
    expect(resp.volume.id == volume_id, f"ShowVolume {volume_id} answered id {resp.volume.id!r}")
    return resp.volume


def poll(what, fetch, status_of_item, want, passing):
    """Polls `fetch()` every POLL s until `status_of_item(item)` is `want`; statuses in `passing`
    may show on the way. Returns (item, the statuses seen)."""
    deadline = time.monotonic() + JOB_TIMEOUT
    seen = []
    while True:
        item = fetch()
        status = status_of_item(item)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == want:
            return item, seen
        expect(status in passing, f"{what}: status {status!r} (seen {seen}), expected {want!r} "
                                  f"or on the way one of {sorted(passing)}")
        expect(time.monotonic() < deadline, f"{what} still {status!r} after {JOB_TIMEOUT:.0f} s (seen {seen})")
        time.sleep(POLL)


def wait_volume(evs, volume_id, want="available", passing=("creating", "extending", "restoring-backup", "backing-up",
                                                            "downloading", "attaching", "detaching")):
    return poll(f"disk {volume_id}", lambda: show_volume(evs, volume_id), lambda v: v.status, want, set(passing))


def job_volume_ids(job):
    """The disk ids a job names: `entities.volume_id` (single-disk jobs) and each sub-job's."""
    ids = []
    ent = job.entities
    if ent is None:
        return ids
    if ent.volume_id:
        ids.append(ent.volume_id)
    for sub in ent.sub_jobs or []:
        if sub.entities is not None and sub.entities.volume_id:
            ids.append(sub.entities.volume_id)
    return ids


def wait_job(evs, job_id, job_types, volume_id):
    """Polls ShowJob every POLL s until SUCCESS or FAIL; the job must end in SUCCESS, be one of
    `job_types` and name `volume_id` in its entities (top level or a sub-job)."""
    expect(job_id, "no job_id to wait for")
    deadline = time.monotonic() + JOB_TIMEOUT
    seen = []
    while True:
        job = evs.show_job(ShowJobRequest(job_id=job_id))
        ok_status(job, "ShowJob")
        expect(job.status in ("INIT", "RUNNING", "SUCCESS", "FAIL"),
               f"ShowJob {job_id}: status {job.status!r} is not INIT/RUNNING/SUCCESS/FAIL")
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if job.status in ("SUCCESS", "FAIL"):
            break
        expect(time.monotonic() < deadline,
               f"job {job_id} still {job.status} after {JOB_TIMEOUT:.0f} s (statuses seen: {seen})")
        time.sleep(POLL)
    expect(job.job_id == job_id, f"ShowJob {job_id} answered job_id {job.job_id!r}")
    expect(job.status == "SUCCESS",
           f"job {job_id} ({job.job_type}) ended {job.status}: error_code={job.error_code!r} "
           f"fail_reason={job.fail_reason!r} entities={job.entities}")
    expect(job.job_type in job_types, f"job {job_id}: job_type {job.job_type!r}, expected one of {job_types}")
    expect(job.begin_time, f"job {job_id} without begin_time")
    expect(job.end_time, f"job {job_id} ended without end_time")
    expect(job.error_code in (None, ""), f"job {job_id} SUCCESS with error_code {job.error_code!r}")
    ids = job_volume_ids(job)
    expect(volume_id in ids, f"job {job_id}: entities name disks {ids}, expected {volume_id}: {job.entities}")
    for sub in (job.entities.sub_jobs or []):
        expect(sub.status == "SUCCESS", f"job {job_id}: sub-job {sub.job_id} is {sub.status}")
    return f"{job.job_type}: {' -> '.join(seen)}"


def listed_volumes(evs, **filters):
    resp = evs.list_volumes(ListVolumesRequest(**filters))
    ok_status(resp, "ListVolumes")
    expect(isinstance(resp.count, int), f"ListVolumes: 'count' missing or not an int: {resp.count!r}")
    expect(isinstance(resp.volumes, list), f"ListVolumes: 'volumes' missing or not a list: {resp.volumes!r}")
    return resp


def check_zones(evs):
    resp = evs.cinder_list_availability_zones(CinderListAvailabilityZonesRequest())
    ok_status(resp, "CinderListAvailabilityZones")
    zones = resp.availability_zone_info or []
    expect(zones, f"no availabilityZoneInfo in {resp.raw_content[:300]!r}")
    names = [z.zone_name for z in zones if z.zone_name and z.zone_state is not None and z.zone_state.available]
    expect(names, f"no available zone among {[(z.zone_name, z.zone_state) for z in zones]}")
    if AZ_ENV:
        expect(AZ_ENV in names, f"NIMBUS_AZ {AZ_ENV!r} not among the available zones {names}")
        return AZ_ENV
    return names[0]


def check_types(evs):
    resp = evs.cinder_list_volume_types(CinderListVolumeTypesRequest())
    ok_status(resp, "CinderListVolumeTypes")
    types = resp.volume_types or []
    names = [t.name for t in types]
    expect(VOLUME_TYPE in names, f"volume type {VOLUME_TYPE!r} not listed: {names}")
    expect(all(t.id for t in types), f"a volume type without id: {[(t.id, t.name) for t in types]}")
    return f"{', '.join(names)}"


def check_create(evs, request):
    resp = evs.create_volume(request)
    ok_status(resp, "CreateVolume", (200, 202))
    expect(resp.job_id, f"CreateVolume: no job_id in the answer: {resp}")
    ids = resp.volume_ids
    expect(isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], str) and ids[0],
           f"CreateVolume: 'volume_ids' should hold 1 id, got {ids!r} (raw {resp.raw_content[:300]!r})")
    expect(resp.order_id in (None, ""), f"a pay-per-use create answered order_id {resp.order_id!r}")
    return resp.job_id, ids[0]


def check_client_token_retry(evs, request, job_id, volume_id, created):
    """The same CreateVolume with the same X-Client-Token must answer the first job and disk."""
    resp = evs.create_volume(request)
    again = list(resp.volume_ids or [])
    created.extend(i for i in again if i != volume_id)  # deleted at the end if the retry created a disk
    expect(resp.job_id == job_id and again == [volume_id],
           f"retry answered job {resp.job_id!r} disks {again}, first answer was job {job_id!r} disk {volume_id}")


def check_available(evs, volume_id, az, size, name):
    v, seen = wait_volume(evs, volume_id)
    expect(v.size == size, f"size {v.size!r}, expected {size}")
    expect(v.volume_type == VOLUME_TYPE, f"volume_type {v.volume_type!r}, expected {VOLUME_TYPE!r}")
    expect(v.availability_zone == az, f"availability_zone {v.availability_zone!r}, expected {az!r}")
    expect(v.name == name, f"name {v.name!r}, expected {name!r}")
    expect(v.bootable == "false", f"bootable {v.bootable!r}, expected the string 'false'")
    expect(v.multiattach is False, f"multiattach {v.multiattach!r}, expected false")
    expect(v.attachments == [], f"attachments {v.attachments!r}, expected []")
    expect(v.os_vol_tenant_attrtenant_id == PROJECT,
           f"os-vol-tenant-attr:tenant_id {v.os_vol_tenant_attrtenant_id!r}, expected {PROJECT!r}")
    expect(v.created_at, "no created_at")
    expect(isinstance(v.metadata, dict), f"metadata {v.metadata!r} is not an object")
    return " -> ".join(seen)


def check_list(evs, volume_id, name):
    all_ = listed_volumes(evs, limit=1000)
    got = [v.id for v in all_.volumes]
    expect(volume_id in got, f"{volume_id} not listed in {got}")
    expect(all_.count >= len(all_.volumes) >= 1, f"count {all_.count} with {len(all_.volumes)} disks")
    by_name = listed_volumes(evs, name=name)
    expect(volume_id in [v.id for v in by_name.volumes],
           f"name={name!r} does not list the disk: {[(v.id, v.name) for v in by_name.volumes]}")
    expect(all(name in (v.name or "") for v in by_name.volumes),
           f"name={name!r} listed other names: {[v.name for v in by_name.volumes]}")
    none = listed_volumes(evs, name="no-such-disk-zz9")
    expect(none.volumes == [] and none.count == 0, f"name matching nothing: count {none.count}, {none.volumes}")
    available = listed_volumes(evs, status="available", limit=1000)
    expect(volume_id in [v.id for v in available.volumes], "status=available does not list the disk")
    expect(all(v.status == "available" for v in available.volumes),
           f"status=available listed {[(v.id, v.status) for v in available.volumes]}")
    error = listed_volumes(evs, status="error", limit=1000)
    expect(volume_id not in [v.id for v in error.volumes], "status=error lists the available disk")
    page = listed_volumes(evs, limit=1)
    expect(len(page.volumes) == 1, f"limit=1 returned {len(page.volumes)} disks")
    expect(page.count == all_.count, f"count with limit=1 is {page.count}, without {all_.count}: it must be the total")
    return f"count={all_.count}"


def check_rename(evs, volume_id):
    resp = evs.update_volume(rename_request(volume_id))
    ok_status(resp, "UpdateVolume")
    # The answer is the disk itself, flat (no "volume" wrapper).
    expect(resp.id == volume_id and resp.name == RENAMED,
           f"UpdateVolume answered id {resp.id!r} name {resp.name!r} (raw {resp.raw_content[:300]!r})")
    v = show_volume(evs, volume_id)
    expect(v.name == RENAMED and v.description == "renamed by huawei_evs_check.py",
           f"after rename: name {v.name!r} description {v.description!r}")


def check_resize(evs, volume_id, new_size):
    resp = evs.resize_volume(resize_request(volume_id, new_size))
    ok_status(resp, "ResizeVolume", (200, 202))
    expect(resp.job_id, f"ResizeVolume: no job_id in the answer: {resp}")
    note = wait_job(evs, resp.job_id, ("extendVolume",), volume_id)
    v, _ = wait_volume(evs, volume_id)
    expect(v.size == new_size, f"size {v.size!r} after the resize, expected {new_size}")
    return note


def check_create_refused(evs, request, created):
    def attempt():
        resp = evs.create_volume(request)
        created.extend(resp.volume_ids or [])  # cleaned up at the end
        return resp

    return refused(attempt)


def check_delete_volume(evs, volume_id):
    resp = evs.delete_volume(DeleteVolumeRequest(volume_id=volume_id))
    ok_status(resp, "DeleteVolume", (200, 202))
    expect(resp.job_id, f"DeleteVolume: no job_id in the answer: {resp}")
    note = wait_job(evs, resp.job_id, ("deleteVolume",), volume_id)
    after = gone(lambda: evs.show_volume(ShowVolumeRequest(volume_id=volume_id)), f"disk {volume_id}", wait=False)
    got = [v.id for v in listed_volumes(evs, limit=1000).volumes]
    expect(volume_id not in got, f"deleted disk {volume_id} still listed")
    return f"{note}; ShowVolume {after}"


def run_evs(evs, state):
    """a. to f.; returns (zone, disk id), or None."""
    az = R.run("EVS CinderListAvailabilityZones (GET /v2/{project_id}/os-availability-zone) names an "
               "available zone", check_zones, evs)
    R.run(f"EVS CinderListVolumeTypes (GET /v2/{{project_id}}/types) lists {VOLUME_TYPE}", check_types, evs)
    if az is None:
        R.skip("EVS the rest of the checks", "no availability zone")
        return None
    create = create_volume_request(az=az, client_token=str(uuid.uuid4()), tags={"team": "storage"})
    first = R.run(f"EVS CreateVolume (POST /v2.1/{{project_id}}/cloudvolumes) 10 GB {VOLUME_TYPE} answers "
                  "job_id and volume_ids", check_create, evs, create)
    if first is None:
        R.skip("EVS the rest of the checks", "CreateVolume failed")
        return None
    job_id, vol = first
    state["volumes"].append(vol)
    R.run("EVS CreateVolume retried with the same X-Client-Token answers the first job and disk",
          check_client_token_retry, evs, create, job_id, vol, state["volumes"])
    job = R.run("EVS ShowJob (GET /v1/{project_id}/jobs/{job_id}) of the create ends SUCCESS naming the disk",
                wait_job, evs, job_id, ("createVolume", "batchCreateVolume"), vol)
    if job is None:
        R.skip("EVS the rest of the checks", "the create job did not succeed")
        return None
    if R.run(f"EVS ShowVolume: available, 10 GB, {VOLUME_TYPE}, zone {az}, not bootable, not attached",
             check_available, evs, vol, az, 10, NAME) is None:
        R.skip("EVS the rest of the checks", "the disk did not become available")
        return None
    R.run("EVS ListVolumes (GET /v2/{project_id}/cloudvolumes/detail) lists the disk; name/status filters; "
          "count is the total", check_list, evs, vol, NAME)
    R.run("EVS UpdateVolume renames the disk (flat answer)", check_rename, evs, vol)
    R.run("EVS ResizeVolume (POST /v2.1/.../cloudvolumes/{id}/action os-extend) 10 -> 20 GB through a job",
          check_resize, evs, vol, 20)

    run_tags(evs, vol)

    R.run("EVS CreateVolume of 5 GB (data disks are 10-32768 GB) -> 400", check_create_refused, evs,
          create_volume_request(size=5, az=az), state["volumes"])
    R.run("EVS CreateVolume of 32769 GB -> 400", check_create_refused, evs,
          create_volume_request(size=32769, az=az), state["volumes"])
    R.run("EVS CreateVolume with volume_type 'NOSUCHTYPE' -> 400", check_create_refused, evs,
          create_volume_request(volume_type="NOSUCHTYPE", az=az), state["volumes"])
    R.run("EVS UpdateVolume with neither name nor description -> 400", refused,
          lambda: evs.update_volume(rename_request(vol, None, None)))
    R.run("EVS ResizeVolume to a smaller size (20 -> 15) -> 400", refused,
          lambda: evs.resize_volume(resize_request(vol, 15)))
    R.run("EVS ShowVolume of an unknown disk id -> 404", refused,
          lambda: evs.show_volume(ShowVolumeRequest(volume_id=str(uuid.uuid4()))), (404,))
    return az, vol


def tag_action(evs, volume_id, add, tags):
    if add:
        body = BatchCreateVolumeTagsRequestBody(action="create", tags=[Tag(key=k, value=v) for k, v in tags.items()])
        return evs.batch_create_volume_tags(BatchCreateVolumeTagsRequest(volume_id=volume_id, body=body))
    body = BatchDeleteVolumeTagsRequestBody(action="delete", tags=[DeleteTagsOption(key=k) for k in tags])
    return evs.batch_delete_volume_tags(BatchDeleteVolumeTagsRequest(volume_id=volume_id, body=body))


def volume_tags(evs, volume_id):
    resp = evs.show_volume_tags(ShowVolumeTagsRequest(volume_id=volume_id))
    ok_status(resp, "ShowVolumeTags")
    return {t.key: t.value for t in (resp.tags or [])}


def check_tags_added(evs, vol):
    expect(volume_tags(evs, vol) == {"team": "storage"}, f"created with team=storage: {volume_tags(evs, vol)}")
    resp = tag_action(evs, vol, True, {"team": "blocks", "env": "test"})
    ok_status(resp, "BatchCreateVolumeTags", (204,))
    want = {"team": "blocks", "env": "test"}
    got = volume_tags(evs, vol)
    expect(got == want, f"ShowVolumeTags: {got}, expected {want}")
    shown = show_volume(evs, vol)
    expect(shown.tags == want, f"ShowVolume tags: {shown.tags}, expected {want}")


def check_project_tags(evs):
    resp = evs.list_volume_tags(ListVolumeTagsRequest())
    ok_status(resp, "ListVolumeTags")
    expect(resp.tags.get("team") == ["blocks"] and resp.tags.get("env") == ["test"], f"ListVolumeTags: {resp.tags}")


def by_tags(evs, action, tags, name=None):
    body = ListVolumesByTagsRequestBody(
        action=action,
        tags=[TagsForListVolumes(key=k, values=v) for k, v in tags.items()],
        matches=[Match(key="resource_name", value=name)] if name else None,
        limit=10 if action == "filter" else None,
        offset=0 if action == "filter" else None,
    )
    resp = evs.list_volumes_by_tags(ListVolumesByTagsRequest(body=body))
    ok_status(resp, "ListVolumesByTags")
    return resp


def check_by_tags(evs, vol):
    found = by_tags(evs, "filter", {"team": ["blocks", "other"], "env": []}, name=RENAMED)
    ids = [r.resource_id for r in (found.resources or [])]
    expect(ids == [vol] and found.total_count == 1, f"filter by tags and name: {ids}, total {found.total_count}")
    expect(found.resources[0].resource_detail.id == vol, "resource_detail is the disk")
    none = by_tags(evs, "count", {"team": ["other"]})
    expect(none.total_count == 0, f"count of team=other: {none.total_count}")


def check_no_tags(evs):
    resp = evs.list_volume_tags(ListVolumeTagsRequest())
    ok_status(resp, "ListVolumeTags")
    expect(not resp.tags, f"tags left: {resp.tags}")


def check_tag_deleted(evs, vol):
    ok_status(tag_action(evs, vol, False, {"env": ""}), "BatchDeleteVolumeTags", (204,))
    got = volume_tags(evs, vol)
    expect(got == {"team": "blocks"}, f"after the delete: {got}")


def run_tags(evs, vol):
    R.run("EVS tags: created with one; BatchCreateVolumeTags (POST .../cloudvolumes/{id}/tags/action) adds and "
          "replaces; ShowVolumeTags and ShowVolume show them", check_tags_added, evs, vol)
    R.run("EVS ListVolumeTags (GET /v2/{project_id}/cloudvolumes/tags) gives each key's values",
          check_project_tags, evs)
    R.run("EVS ListVolumesByTags (POST .../cloudvolumes/resource_instances/action) filter and count",
          check_by_tags, evs, vol)
    R.run("EVS BatchCreateVolumeTags beyond 10 tags -> 400", refused,
          lambda: tag_action(evs, vol, True, {f"k{i}": "v" for i in range(10)}))
    R.run("EVS BatchCreateVolumeTags with the key 'bad key' -> 400", refused,
          lambda: tag_action(evs, vol, True, {"bad key": "v"}))
    R.run("EVS BatchDeleteVolumeTags of a tag the disk lacks -> 4xx", refused,
          lambda: tag_action(evs, vol, False, {"nosuch": ""}), (400, 404))
    R.run("EVS BatchDeleteVolumeTags removes one", check_tag_deleted, evs, vol)


def snapshot_request(volume_id):
    return CreateSnapshotRequest(
        body=CreateSnapshotRequestBody(
            snapshot=CreateSnapshotOption(volume_id=volume_id, name=SNAP_NAME, description="hw check", force=False)
        )
    )


def check_snapshot(evs, volume_id, size):
    resp = evs.create_snapshot(snapshot_request(volume_id))
    ok_status(resp, "CreateSnapshot", (200, 202))
    s = resp.snapshot
    expect(s is not None and s.id, f"CreateSnapshot: no snapshot id in {resp.raw_content[:300]!r}")
    expect(s.status in ("creating", "available"), f"new snapshot status {s.status!r}")
    expect(s.volume_id == volume_id, f"snapshot volume_id {s.volume_id!r}, expected {volume_id}")
    snap_id = s.id

    def fetch():
        r = evs.show_snapshot(ShowSnapshotRequest(snapshot_id=snap_id))
        ok_status(r, "ShowSnapshot")
        expect(r.snapshot is not None and r.snapshot.id == snap_id, f"ShowSnapshot answered {r.snapshot}")
        return r.snapshot

    s, seen = poll(f"snapshot {snap_id}", fetch, lambda x: x.status, "available", {"creating"})
    expect(s.size == size and s.name == SNAP_NAME, f"snapshot size {s.size!r} name {s.name!r}, expected {size}, {SNAP_NAME!r}")
    listed = evs.list_snapshots(ListSnapshotsRequest(volume_id=volume_id))
    ok_status(listed, "ListSnapshots")
    expect(isinstance(listed.count, int), f"ListSnapshots: count {listed.count!r}")
    got = [(x.id, x.volume_id) for x in listed.snapshots or []]
    expect(got == [(snap_id, volume_id)], f"ListSnapshots volume_id={volume_id}: {got}")
    return snap_id, " -> ".join(seen)


def check_rename_snapshot(evs, snap_id):
    body = UpdateSnapshotRequestBody(snapshot=UpdateSnapshotOption(name=SNAP_NAME + "-2", description="renamed"))
    resp = evs.update_snapshot(UpdateSnapshotRequest(snapshot_id=snap_id, body=body))
    ok_status(resp, "UpdateSnapshot")
    expect(resp.snapshot.name == SNAP_NAME + "-2", f"UpdateSnapshot answered name {resp.snapshot.name!r}")


def check_rollback(evs, snap_id, volume_id):
    body = RollbackSnapshotRequestBody(rollback=RollbackSnapshotOption(volume_id=volume_id))
    resp = evs.rollback_snapshot(RollbackSnapshotRequest(snapshot_id=snap_id, body=body))
    ok_status(resp, "RollbackSnapshot", (200, 202))
    expect(resp.rollback is not None and resp.rollback.volume_id == volume_id, f"RollbackSnapshot answered {resp}")
    v, seen = wait_volume(evs, volume_id, passing=("rollbacking", "reverting"))
    return " -> ".join(seen)


def check_volume_from_snapshot(evs, snap_id, az, created):
    resp = evs.create_volume(create_volume_request(size=20, az=az, name=NAME + "-from-snap", snapshot_id=snap_id))
    ok_status(resp, "CreateVolume", (200, 202))
    created.extend(resp.volume_ids or [])
    vol = resp.volume_ids[0]
    wait_job(evs, resp.job_id, ("createVolume",), vol)
    v, _ = wait_volume(evs, vol)
    expect(v.snapshot_id == snap_id and v.size == 20, f"disk from snapshot: snapshot_id {v.snapshot_id!r} size {v.size!r}")
    return vol


def check_delete_snapshot(evs, snap_id):
    resp = evs.delete_snapshot(DeleteSnapshotRequest(snapshot_id=snap_id))
    ok_status(resp, "DeleteSnapshot", (200, 202, 204))
    return gone(lambda: evs.show_snapshot(ShowSnapshotRequest(snapshot_id=snap_id)), f"snapshot {snap_id}")


def run_snapshots(evs, az, vol, state):
    snap = R.run("EVS CreateSnapshot (POST /v2/{project_id}/cloudsnapshots) -> available; ListSnapshots by volume_id",
                 check_snapshot, evs, vol, 20)
    if snap is None:
        R.skip("EVS the snapshot checks", "CreateSnapshot failed")
        return
    snap_id = snap[0]
    state["snapshots"].append(snap_id)
    R.run("EVS UpdateSnapshot renames the snapshot", check_rename_snapshot, evs, snap_id)
    R.run("EVS DeleteVolume of a disk with a snapshot -> 400", refused,
          lambda: evs.delete_volume(DeleteVolumeRequest(volume_id=vol)))
    R.run("EVS RollbackSnapshot (POST .../cloudsnapshots/{id}/rollback) puts the disk back; it is available again",
          check_rollback, evs, snap_id, vol)
    R.run("EVS CreateVolume from the snapshot (snapshot_id) -> available, 20 GB", check_volume_from_snapshot,
          evs, snap_id, az, state["volumes"])
    if R.run("EVS DeleteSnapshot -> then 404", check_delete_snapshot, evs, snap_id) is not None:
        state["snapshots"].remove(snap_id)


def cleanup(evs, state):
    """Best effort: deletes what a failed run left behind. Not a check."""
    for snap in state["snapshots"]:
        try:
            evs.delete_snapshot(DeleteSnapshotRequest(snapshot_id=snap))
            time.sleep(POLL)
        except Exception as e:  # noqa: BLE001 - cleanup must never raise
            print(f"cleanup: DeleteSnapshot {snap} failed: {type(e).__name__}: {e}", flush=True)
    for v in state["volumes"]:
        try:
            evs.delete_volume(DeleteVolumeRequest(volume_id=v))
            print(f"cleanup: DeleteVolume {v}", flush=True)
        except Exception as e:  # noqa: BLE001 - cleanup must never raise
            print(f"cleanup: DeleteVolume {v} failed: {type(e).__name__}: {e}", flush=True)


def main():
    missing = [name for name, value in ENV.items() if not value]
    if missing:
        print(f"FAIL: missing environment variables: {', '.join(missing)}")
        print("evs: 0 passed, 1 failed")
        return 1
    evs = R.run("EVS client builds", evs_client)
    if evs is None:
        print(f"evs: {R.passed} passed, {R.failed} failed")
        return 1
    state = {"volumes": [], "snapshots": []}
    try:
        made = run_evs(evs, state)
        if made is not None:
            run_snapshots(evs, made[0], made[1], state)
            for v in list(state["volumes"]):
                if R.run(f"EVS DeleteVolume {v} (DELETE /v2/{{project_id}}/cloudvolumes/{{id}}) -> deleteVolume job "
                         "SUCCESS, then 404 and not listed", check_delete_volume, evs, v) is not None:
                    state["volumes"].remove(v)
            R.run("EVS ListVolumeTags after the deletes: the disks' tags went with them", check_no_tags, evs)
    finally:
        cleanup(evs, state)
    print(f"evs: {R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
