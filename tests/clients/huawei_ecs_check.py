"""Checks Nimbus's native ECS API with the unmodified Huawei Cloud Python SDK (huaweicloudsdkecs).

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_ecs_check.py``.
The client is built with ``.with_endpoint(NIMBUS_ENDPOINT)``, never ``with_region``, so the SDK
makes no discovery calls and never contacts the real cloud. The wire format is described in
``/work/notes/huawei-ecs.md``.

Environment:
  NIMBUS_ENDPOINT      http://127.0.0.1:PORT                                   (required)
  NIMBUS_ACCESS_KEY    the admin's access key                                  (required)
  NIMBUS_SECRET_KEY    the admin's secret key                                  (required)
  NIMBUS_PROJECT_ID    the admin project's id                                  (required)
  NIMBUS_IMAGE_ID      the id of the public image ``nimbus-tiny``              (required)
  NIMBUS_FLAVOR        flavorRef of the servers (default ``s3.small.1``)
  NIMBUS_VPC_ID        ``vpcid`` sent on create (default ``default``)
  NIMBUS_SUBNET_ID     ``nics[0].subnet_id`` sent on create (default ``default``)
  NIMBUS_JOB_TIMEOUT   seconds to wait for one job (default 600)
  NIMBUS_EXPECT_READY  if ``1``: stop once the servers are ACTIVE and leave them running (the
                       Rust test then reads their consoles and deletes them); the ids are printed
                       on a line ``huawei-ecs-servers: <id> <id>``.

The checks (``CreateServers`` is the SDK's name for ``POST /v1.1/{project_id}/cloudservers``):
  a. CreateServers count=2, name ``hw-vm``, user_data base64("#!/bin/sh\\necho hello-from-ecs\\n"),
     root_volume SSD, one 10 GB SATA data volume, X-Client-Token: answers job_id and two serverIds;
     the same request with the same X-Client-Token answers the same job and servers.
  b. ShowJob until SUCCESS/FAIL: SUCCESS, two sub_jobs, each SUCCESS with one of the server ids.
  c. ShowServer of each: ACTIVE, flavor, image, name prefix ``hw-vm``; ListServerBlockDevices: the
     system disk (an EVS volume made from the image) on /dev/vda, the data disk on /dev/vdc.
  d. ListServersDetails: both listed, count >= 2; the name and status filters.
  e. BatchStopServers SOFT -> SHUTOFF, BatchStartServers -> ACTIVE, BatchRebootServers HARD -> ACTIVE,
     each through a job that ends in SUCCESS.
  f. Errors: ShowServer of an unknown id -> 404; CreateServers with an unknown flavor or user_data
     that is not base64 -> 400; CreatePostPaidServers (``POST /v1/...``) with an unknown flavor -> 400.
  g. DeleteServers (delete_volume) -> job SUCCESS; ShowServer -> 404 afterwards; no longer listed.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``huawei-ecs: N passed, M failed``;
exits 1 if anything failed.
"""

import base64
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
from huaweicloudsdkecs.v2 import (
    BatchRebootServersRequest,
    BatchRebootServersRequestBody,
    BatchRebootSeversOption,  # sic: the SDK's spelling
    BatchStartServersOption,
    BatchStartServersRequest,
    BatchStartServersRequestBody,
    BatchStopServersOption,
    BatchStopServersRequest,
    BatchStopServersRequestBody,
    CreatePostPaidServersRequest,
    CreatePostPaidServersRequestBody,
    CreateServersRequest,
    CreateServersRequestBody,
    DeleteServersRequest,
    DeleteServersRequestBody,
    EcsClient,
    ListServersDetailsRequest,
    PostPaidServer,
    PostPaidServerNic,
    PostPaidServerRootVolume,
    PrePaidServer,
    PrePaidServerNic,
    PrePaidServerDataVolume,
    PrePaidServerRootVolume,
    ListServerBlockDevicesRequest,
    ServerId,
    ShowJobRequest,
    ShowServerRequest,
)

REQUIRED = (
    "NIMBUS_ENDPOINT",
    "NIMBUS_ACCESS_KEY",
    "NIMBUS_SECRET_KEY",
    "NIMBUS_PROJECT_ID",
    "NIMBUS_IMAGE_ID",
)
ENV = {name: os.environ.get(name, "") for name in REQUIRED}
ENDPOINT = ENV["NIMBUS_ENDPOINT"]
AK = ENV["NIMBUS_ACCESS_KEY"]
SK = ENV["NIMBUS_SECRET_KEY"]
PROJECT = ENV["NIMBUS_PROJECT_ID"]
IMAGE_ID = ENV["NIMBUS_IMAGE_ID"]
FLAVOR = os.environ.get("NIMBUS_FLAVOR") or "s3.small.1"
VPC_ID = os.environ.get("NIMBUS_VPC_ID") or "default"
SUBNET_ID = os.environ.get("NIMBUS_SUBNET_ID") or "default"
EXPECT_READY = os.environ.get("NIMBUS_EXPECT_READY") == "1"
JOB_TIMEOUT = float(os.environ.get("NIMBUS_JOB_TIMEOUT") or 600)
JOB_POLL = 3.0

NAME = "hw-vm"
USER_DATA_TEXT = "#!/bin/sh\necho hello-from-ecs\n"
USER_DATA = base64.b64encode(USER_DATA_TEXT.encode()).decode()


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
        # The SDK falls back to the status as error_code when the body carries none; a Nova-style
        # {"itemNotFound": {"code": 404, ...}} gives the same. ECS answers codes like "Ecs.0114".
        expect(str(e.error_code) != str(e.status_code),
               f"no error code in the body (the SDK substituted the status): {describe_error(e)}")
        return e
    except ServiceResponseException as e:
        raise CheckFailed(f"expected a 4xx ClientRequestException, got {describe_error(e)}")
    raise CheckFailed(f"expected a 4xx error, the call succeeded: {str(resp)[:300]}")


def short(ids):
    return ", ".join(ids)


# ------------------------------------------------------------------------------------------
# Requests. All request models are built here, before any network call, so a wrong model
# field name fails at once instead of after servers were created.


def server_ids(ids):
    return [ServerId(id=i) for i in ids]


def prepaid_server(flavor=FLAVOR, user_data=USER_DATA, count=2, name=NAME):
    """The `server` object of CreateServers (v1.1); billing left at its default (postPaid)."""
    return PrePaidServer(
        image_ref=IMAGE_ID,
        flavor_ref=flavor,
        name=name,
        user_data=user_data,
        vpcid=VPC_ID,
        nics=[PrePaidServerNic(subnet_id=SUBNET_ID)],
        root_volume=PrePaidServerRootVolume(volumetype="SSD"),
        data_volumes=[PrePaidServerDataVolume(volumetype="SATA", size=10)],
        count=count,
        # key_name is left out: the servers have no key pair.
    )


def create_request(server, client_token=None):
    return CreateServersRequest(x_client_token=client_token, body=CreateServersRequestBody(server=server))


def postpaid_create_request(flavor):
    """CreatePostPaidServers (v1): same server fields, PostPaid* model classes."""
    server = PostPaidServer(
        image_ref=IMAGE_ID,
        flavor_ref=flavor,
        name=NAME + "-v1",
        user_data=USER_DATA,
        vpcid=VPC_ID,
        nics=[PostPaidServerNic(subnet_id=SUBNET_ID)],
        root_volume=PostPaidServerRootVolume(volumetype="SSD"),
        count=1,
    )
    return CreatePostPaidServersRequest(body=CreatePostPaidServersRequestBody(server=server))


def stop_request(ids, kind="SOFT"):
    return BatchStopServersRequest(
        body=BatchStopServersRequestBody(os_stop=BatchStopServersOption(servers=server_ids(ids), type=kind))
    )


def start_request(ids):
    return BatchStartServersRequest(
        body=BatchStartServersRequestBody(os_start=BatchStartServersOption(servers=server_ids(ids)))
    )


def reboot_request(ids, kind="HARD"):
    return BatchRebootServersRequest(
        body=BatchRebootServersRequestBody(reboot=BatchRebootSeversOption(servers=server_ids(ids), type=kind))
    )


def delete_request(ids):
    return DeleteServersRequest(
        body=DeleteServersRequestBody(servers=server_ids(ids), delete_publicip=False, delete_volume=True)
    )


def build_static_requests():
    """Builds every request whose content does not depend on an earlier answer, plus one of each
    id-dependent kind with a placeholder id, so model mistakes show before any server exists."""
    placeholder = [str(uuid.uuid4())]
    return {
        "create": create_request(prepaid_server(), client_token=str(uuid.uuid4())),
        "create_bad_flavor": create_request(prepaid_server(flavor="no-such-flavor", count=1)),
        "create_bad_user_data": create_request(prepaid_server(user_data="not base64!!", count=1)),
        "create_v1_bad_flavor": postpaid_create_request("no-such-flavor"),
        "probe": [
            stop_request(placeholder), start_request(placeholder), reboot_request(placeholder),
            delete_request(placeholder), ShowServerRequest(server_id=placeholder[0]),
            ShowJobRequest(job_id=placeholder[0]), ListServersDetailsRequest(name=NAME, limit=100, offset=1),
        ],
    }


# ------------------------------------------------------------------------------------------
# Client and helpers


def ecs_client():
    return (
        EcsClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoint(ENDPOINT)
        .build()
    )


def show(ecs, server_id):
    resp = ecs.show_server(ShowServerRequest(server_id=server_id))
    expect(resp.status_code == 200, f"ShowServer status {resp.status_code}, expected 200")
    expect(resp.server is not None, f"ShowServer {server_id}: no 'server' object in the answer")
    expect(resp.server.id == server_id, f"ShowServer {server_id} answered server id {resp.server.id!r}")
    return resp.server


def wait_job(ecs, job_id, want_subjobs=None):
    """Polls ShowJob every JOB_POLL s until SUCCESS or FAIL; the job must end in SUCCESS.
    `want_subjobs`: server ids that must each have exactly one sub-job in SUCCESS."""
    expect(job_id, "no job_id to wait for")
    deadline = time.monotonic() + JOB_TIMEOUT
    seen = []
    while True:
        job = ecs.show_job(ShowJobRequest(job_id=job_id))
        expect(job.status_code == 200, f"ShowJob status {job.status_code}, expected 200")
        expect(job.status in ("INIT", "RUNNING", "SUCCESS", "FAIL"),
               f"ShowJob {job_id}: status {job.status!r} is not INIT/RUNNING/SUCCESS/FAIL")
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if job.status in ("SUCCESS", "FAIL"):
            break
        expect(time.monotonic() < deadline,
               f"job {job_id} still {job.status} after {JOB_TIMEOUT:.0f} s (statuses seen: {seen})")
        time.sleep(JOB_POLL)
    expect(job.job_id == job_id, f"ShowJob {job_id} answered job_id {job.job_id!r}")
    expect(job.status == "SUCCESS",
           f"job {job_id} ({job.job_type}) ended {job.status}: error_code={job.error_code!r} "
           f"fail_reason={job.fail_reason!r} entities={job.entities}")
    expect(job.job_type, f"job {job_id} without job_type")
    expect(job.begin_time, f"job {job_id} without begin_time")
    if want_subjobs is not None:
        entities = job.entities
        expect(entities is not None, f"job {job_id}: no 'entities'")
        subs = entities.sub_jobs or []
        expect(len(subs) == len(want_subjobs),
               f"job {job_id}: {len(subs)} sub_jobs, expected {len(want_subjobs)}: {entities}")
        if entities.sub_jobs_total is not None:
            expect(entities.sub_jobs_total == len(want_subjobs),
                   f"job {job_id}: sub_jobs_total {entities.sub_jobs_total}, expected {len(want_subjobs)}")
        for sub in subs:
            expect(sub.status == "SUCCESS", f"job {job_id}: sub-job {sub} is not SUCCESS")
            expect(sub.entities is not None and sub.entities.server_id in want_subjobs,
                   f"job {job_id}: sub-job server_id {getattr(sub.entities, 'server_id', None)!r} "
                   f"not among {want_subjobs}")
        got = sorted(s.entities.server_id for s in subs)
        expect(got == sorted(want_subjobs), f"job {job_id}: sub-job servers {got}, expected {sorted(want_subjobs)}")
    return f"{job.job_type}: {' -> '.join(seen)}"


def listed(ecs, **filters):
    resp = ecs.list_servers_details(ListServersDetailsRequest(**filters))
    expect(resp.status_code == 200, f"ListServersDetails status {resp.status_code}, expected 200")
    expect(isinstance(resp.count, int), f"ListServersDetails: 'count' missing or not an int: {resp.count!r}")
    expect(isinstance(resp.servers, list), f"ListServersDetails: 'servers' missing or not a list: {resp.servers!r}")
    return resp


# ------------------------------------------------------------------------------------------
# a. Create


def check_create(ecs, request):
    resp = ecs.create_servers(request)
    expect(resp.status_code == 200, f"CreateServers status {resp.status_code}, expected 200")
    expect(resp.job_id, f"CreateServers: no job_id in the answer: {resp}")
    ids = resp.server_ids
    expect(isinstance(ids, list) and len(ids) == 2,
           f"CreateServers: 'serverIds' should hold 2 ids, got {ids!r} (raw {resp.raw_content[:300]!r})")
    expect(all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 2, f"bad server ids {ids}")
    return resp.job_id, list(ids)


def check_client_token_retry(ecs, request, job_id, ids, created):
    """The same CreateServers with the same X-Client-Token must answer the first job and servers."""
    resp = ecs.create_servers(request)
    again = list(resp.server_ids or [])
    extra = [i for i in again if i not in ids]
    created.extend(extra)  # deleted at the end if the retry created new servers
    expect(resp.job_id == job_id and sorted(again) == sorted(ids),
           f"retry answered job {resp.job_id!r} servers {again}, first answer was job {job_id!r} servers {ids}")


# ------------------------------------------------------------------------------------------
# c. Show


def check_active(ecs, server_id):
    s = show(ecs, server_id)
    expect(s.status == "ACTIVE", f"status {s.status!r}, expected ACTIVE (task_state {s.os_ext_st_stask_state!r}, "
                                 f"fault {s.fault!r})")
    expect(s.flavor is not None and s.flavor.id == FLAVOR, f"flavor {s.flavor}, expected id {FLAVOR!r}")
    expect(s.image is not None and s.image.id == IMAGE_ID, f"image {s.image}, expected id {IMAGE_ID!r}")
    expect(isinstance(s.name, str) and s.name.startswith(NAME), f"name {s.name!r} does not start with {NAME!r}")
    expect(s.tenant_id == PROJECT, f"tenant_id {s.tenant_id!r}, expected {PROJECT!r}")
    expect(s.created, "no 'created' time")
    expect(s.os_ext_st_svm_state == "active", f"OS-EXT-STS:vm_state {s.os_ext_st_svm_state!r}, expected 'active'")
    expect(s.os_ext_st_spower_state in (None, 1), f"OS-EXT-STS:power_state {s.os_ext_st_spower_state!r}, expected 1")
    expect(s.key_name in (None, ""), f"key_name {s.key_name!r}, none was given")
    expect(s.os_ext_srv_att_ruser_data in (None, USER_DATA),
           f"OS-EXT-SRV-ATTR:user_data {s.os_ext_srv_att_ruser_data!r}, expected the base64 sent ({USER_DATA!r})")
    return s.name


def check_block_devices(ecs, server_id):
    """The system disk is an EVS volume on /dev/vda (boot index 0), the data disk a 10 GB one on
    /dev/vdc (vdb is the config drive)."""
    resp = ecs.list_server_block_devices(ListServerBlockDevicesRequest(server_id=server_id))
    devices = {d.device: d for d in resp.volume_attachments or []}
    expect(sorted(devices) == ["/dev/vda", "/dev/vdc"], f"devices {sorted(devices)}, expected /dev/vda and /dev/vdc")
    root, data = devices["/dev/vda"], devices["/dev/vdc"]
    expect(root.boot_index == 0, f"system disk boot index {root.boot_index!r}, expected 0")
    expect(root.size is not None and root.size >= 1, f"system disk size {root.size!r}")
    expect(data.boot_index is None, f"data disk boot index {data.boot_index!r}, expected none")
    expect(data.size == 10, f"data disk size {data.size!r}, expected 10")
    expect(root.volume_id != data.volume_id and root.server_id == server_id, "two distinct volumes of this server")


def check_status(ecs, ids, status, vm_state, power_state):
    for server_id in ids:
        s = show(ecs, server_id)
        expect(s.status == status, f"{server_id}: status {s.status!r}, expected {status}")
        expect(s.os_ext_st_svm_state == vm_state,
               f"{server_id}: OS-EXT-STS:vm_state {s.os_ext_st_svm_state!r}, expected {vm_state!r}")
        expect(s.os_ext_st_spower_state in (None, power_state),
               f"{server_id}: OS-EXT-STS:power_state {s.os_ext_st_spower_state!r}, expected {power_state}")


# ------------------------------------------------------------------------------------------
# d. List


def check_list(ecs, ids):
    resp = listed(ecs, limit=100)
    got = [s.id for s in resp.servers]
    missing = [i for i in ids if i not in got]
    expect(not missing, f"{missing} not listed in {got}")
    expect(resp.count >= 2 and resp.count >= len(resp.servers), f"count {resp.count} with {len(got)} servers")
    for s in resp.servers:
        if s.id in ids:
            expect(s.status == "ACTIVE" and s.flavor is not None and s.flavor.id == FLAVOR,
                   f"listed server {s.id}: status {s.status!r} flavor {s.flavor}")
    return f"count={resp.count}"


def check_list_filters(ecs, ids):
    by_name = listed(ecs, name=NAME, limit=100)
    got = [s.id for s in by_name.servers]
    expect(all(i in got for i in ids), f"name={NAME!r} listed {got}, expected {ids} among them")
    expect(all(NAME in (s.name or "") for s in by_name.servers),
           f"name={NAME!r} listed other names: {[s.name for s in by_name.servers]}")
    none = listed(ecs, name="no-such-server-zz9")
    expect(none.servers == [] and none.count == 0, f"name matching nothing: count {none.count}, {none.servers}")
    active = listed(ecs, status="ACTIVE", limit=100)
    expect(all(i in [s.id for s in active.servers] for i in ids), "status=ACTIVE does not list the servers")
    expect(all(s.status == "ACTIVE" for s in active.servers),
           f"status=ACTIVE listed {[(s.id, s.status) for s in active.servers]}")
    stopped = listed(ecs, status="SHUTOFF", limit=100)
    expect(not any(s.id in ids for s in stopped.servers), "status=SHUTOFF lists the running servers")
    page = listed(ecs, name=NAME, limit=1, offset=1)
    expect(len(page.servers) == 1, f"limit=1 returned {len(page.servers)} servers")
    expect(page.count >= 2, f"count with limit=1 is {page.count}: it must be the total, not the page size")
    return f"name filter count={by_name.count}"


# ------------------------------------------------------------------------------------------
# e. Power actions


def check_action(ecs, call, request, ids, status, vm_state, power_state):
    resp = call(request)
    expect(resp.status_code == 200, f"status {resp.status_code}, expected 200")
    expect(resp.job_id, f"no job_id in the answer: {resp}")
    note = wait_job(ecs, resp.job_id, ids)
    check_status(ecs, ids, status, vm_state, power_state)
    return note


# ------------------------------------------------------------------------------------------
# f. Errors


def check_unknown_server(ecs, server_id):
    e = expect_client_error(lambda: ecs.show_server(ShowServerRequest(server_id=server_id)), [404])
    return f"{e.status_code} {e.error_code}"


def check_create_refused(call, request, created):
    def attempt():
        resp = call(request)
        created.extend(resp.server_ids or [])  # cleaned up at the end
        return resp

    e = expect_client_error(attempt, [400])
    return f"{e.status_code} {e.error_code}"


# ------------------------------------------------------------------------------------------
# g. Delete


def check_delete(ecs, ids):
    resp = ecs.delete_servers(delete_request(ids))
    expect(resp.status_code == 200, f"DeleteServers status {resp.status_code}, expected 200")
    expect(resp.job_id, f"DeleteServers: no job_id in the answer: {resp}")
    return wait_job(ecs, resp.job_id, ids)


def check_gone(ecs, ids):
    notes = []
    for server_id in ids:
        try:
            s = ecs.show_server(ShowServerRequest(server_id=server_id)).server
        except ClientRequestException as e:
            expect(e.status_code == 404, f"{server_id}: expected 404, got {describe_error(e)}")
            expect(e.error_code and str(e.error_code) != "404", f"{server_id}: 404 without error_code in the body")
            notes.append("404")
            continue
        expect(s is not None and s.status == "DELETED",
               f"{server_id} still shown after delete with status {getattr(s, 'status', None)!r}")
        notes.append("DELETED (404 preferred)")
    got = [s.id for s in listed(ecs, limit=1000).servers]
    expect(not any(i in got for i in ids), f"deleted servers still listed: {[i for i in ids if i in got]}")
    return ", ".join(notes)


def cleanup(ecs, ids):
    """Best effort: deletes servers a failed run left behind. Not a check."""
    if not ids:
        return
    try:
        resp = ecs.delete_servers(delete_request(ids))
        print(f"cleanup: DeleteServers {short(ids)} -> job {resp.job_id}", flush=True)
    except Exception as e:  # noqa: BLE001 - cleanup must never raise
        print(f"cleanup: DeleteServers {short(ids)} failed: {type(e).__name__}: {e}", flush=True)


# ------------------------------------------------------------------------------------------


def run_checks(ecs, requests, created):
    """Runs a. to g.; `created` collects every server id that may need a cleanup."""
    first = R.run("ECS CreateServers (POST /v1.1/{project_id}/cloudservers) count=2 answers job_id "
                  "and 2 serverIds", check_create, ecs, requests["create"])
    if first is None:
        R.skip("ECS the rest of the checks", "CreateServers failed")
        return
    job_id, ids = first
    created.extend(ids)
    R.run("ECS CreateServers retried with the same X-Client-Token answers the first job and servers",
          check_client_token_retry, ecs, requests["create"], job_id, ids, created)

    job = R.run("ECS ShowJob of the create ends SUCCESS with one SUCCESS sub-job per server",
                wait_job, ecs, job_id, ids)
    if job is None:
        R.skip("ECS ShowServer / power / delete checks", "the create job did not succeed")
        return
    names = [R.run(f"ECS ShowServer {i}: ACTIVE, flavor, image, name prefix {NAME!r}", check_active, ecs, i)
             for i in ids]
    for i in ids:
        R.run(f"ECS ListServerBlockDevices {i}: an SSD system disk on /dev/vda, a 10 GB data disk on /dev/vdc",
              check_block_devices, ecs, i)
    if EXPECT_READY:
        print(f"huawei-ecs-servers: {' '.join(ids)}", flush=True)
        created.clear()  # left running for the Rust test
        return
    if all(names):
        R.run("ECS batch-created servers have distinct names", lambda: expect(
            len(set(names)) == len(names), f"names {names}"))

    R.run("ECS ListServersDetails lists both servers", check_list, ecs, ids)
    R.run("ECS ListServersDetails filters name, status, limit/offset", check_list_filters, ecs, ids)

    R.run("ECS BatchStopServers SOFT -> job SUCCESS, servers SHUTOFF", check_action, ecs,
          ecs.batch_stop_servers, stop_request(ids, "SOFT"), ids, "SHUTOFF", "stopped", 4)
    R.run("ECS BatchStartServers -> job SUCCESS, servers ACTIVE", check_action, ecs,
          ecs.batch_start_servers, start_request(ids), ids, "ACTIVE", "active", 1)
    R.run("ECS BatchRebootServers HARD -> job SUCCESS, servers ACTIVE", check_action, ecs,
          ecs.batch_reboot_servers, reboot_request(ids, "HARD"), ids, "ACTIVE", "active", 1)

    R.run("ECS ShowServer of an unknown server id (uuid) -> 404", check_unknown_server, ecs, str(uuid.uuid4()))
    R.run("ECS ShowServer of an unknown server id (32 hex) -> 404", check_unknown_server, ecs, uuid.uuid4().hex)
    R.run("ECS CreateServers with flavorRef 'no-such-flavor' -> 400", check_create_refused,
          ecs.create_servers, requests["create_bad_flavor"], created)
    R.run("ECS CreateServers with user_data that is not base64 -> 400", check_create_refused,
          ecs.create_servers, requests["create_bad_user_data"], created)
    R.run("ECS CreatePostPaidServers (POST /v1/{project_id}/cloudservers) with an unknown flavor -> 400",
          check_create_refused, ecs.create_post_paid_servers, requests["create_v1_bad_flavor"], created)

    deleted = R.run("ECS DeleteServers -> job SUCCESS", check_delete, ecs, ids)
    if deleted is not None:
        for i in ids:
            created.remove(i)
        R.run("ECS ShowServer of the deleted servers -> 404, not listed", check_gone, ecs, ids)


def main():
    missing = [name for name, value in ENV.items() if not value]
    if missing:
        print(f"FAIL: missing environment variables: {', '.join(missing)}")
        print("huawei-ecs: 0 passed, 1 failed")
        return 1
    requests = R.run("ECS request models build", build_static_requests)
    ecs = R.run("ECS client builds", ecs_client)
    if requests is None or ecs is None:
        print(f"huawei-ecs: {R.passed} passed, {R.failed} failed")
        return 1
    created = []
    try:
        run_checks(ecs, requests, created)
    finally:
        cleanup(ecs, created)
    print(f"huawei-ecs: {R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
