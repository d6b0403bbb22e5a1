"""Checks Nimbus's native CTS and IAM APIs with the unmodified Huawei Cloud Python SDKs.

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_sdk_check.py``.
Every client is built with ``.with_endpoint(NIMBUS_ENDPOINT)``, never ``with_region``, so
the SDK makes no discovery calls and never contacts the real cloud.

Environment (all required):
  NIMBUS_ENDPOINT            http://127.0.0.1:PORT
  NIMBUS_ACCESS_KEY          the admin's access key
  NIMBUS_SECRET_KEY          the admin's secret key
  NIMBUS_PROJECT_ID          the admin project's id
  NIMBUS_DOMAIN_ID           the admin's domain id (``default``)
  NIMBUS_USER_ID             a non-admin user of that domain, member of the project below
  NIMBUS_MEMBER_PROJECT_ID   a project the user is a member of (created by the admin)

Before running the script the test logs the admin in (so ``createToken`` traces exist) and
creates the member project (so a ``createProject`` trace exists under that project).

The checks:
  1. CTS with the admin's key: ListTraces (content, paging, filters), ListTrackers,
     CreateTracker conflict, ListQuotas.
  2. IAM permanent access keys for the user: create, list, show, update, use the new key
     with CTS (its own project allowed, another refused), wrong secret, key limit, delete.
  3. The admin's IAM calls appear as ``createAccessKey`` / ``deleteCredential`` traces.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``huawei-sdk: N passed, M failed``;
exits 1 if anything failed.
"""

import os
import sys
import traceback

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServiceResponseException
from huaweicloudsdkims.v2 import (
    GlanceCreateImageMetadataRequest,
    GlanceCreateImageMetadataRequestBody,
    GlanceDeleteImageRequest,
    GlanceListImagesRequest,
    GlanceShowImageRequest,
    ImsClient,
    ListImagesRequest,
)
from huaweicloudsdktms.v1 import (
    CreateResourceTagRequest,
    CreateTagRequest,
    DeleteResourceTagRequest,
    DeleteTagRequest,
    ReqCreateTag,
    ReqDeleteTag,
    ResourceTagBody,
    ShowResourceTagRequest,
    TmsClient,
)
from huaweicloudsdkcts.v3 import (
    CreateTrackerRequest,
    CreateTrackerRequestBody,
    CtsClient,
    ListQuotasRequest,
    ListTracesRequest,
    ListTrackersRequest,
)
from huaweicloudsdkiam.v3 import (
    CreateCredentialOption,
    CreatePermanentAccessKeyRequest,
    CreatePermanentAccessKeyRequestBody,
    DeletePermanentAccessKeyRequest,
    IamClient,
    ListPermanentAccessKeysRequest,
    ShowPermanentAccessKeyRequest,
    UpdateCredentialOption,
    UpdatePermanentAccessKeyRequest,
    UpdatePermanentAccessKeyRequestBody,
)

ENV = {
    name: os.environ.get(name, "")
    for name in (
        "NIMBUS_ENDPOINT",
        "NIMBUS_ACCESS_KEY",
        "NIMBUS_SECRET_KEY",
        "NIMBUS_PROJECT_ID",
        "NIMBUS_DOMAIN_ID",
        "NIMBUS_USER_ID",
        "NIMBUS_MEMBER_PROJECT_ID",
    )
}
ENDPOINT = ENV["NIMBUS_ENDPOINT"]
ADMIN_AK = ENV["NIMBUS_ACCESS_KEY"]
ADMIN_SK = ENV["NIMBUS_SECRET_KEY"]
ADMIN_PROJECT = ENV["NIMBUS_PROJECT_ID"]
DOMAIN = ENV["NIMBUS_DOMAIN_ID"]
USER_ID = ENV["NIMBUS_USER_ID"]
MEMBER_PROJECT = ENV["NIMBUS_MEMBER_PROJECT_ID"]

# How many keys a user may hold (Huawei IAM: 2).
KEY_LIMIT = 2


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
        except Exception as e:  # SDK deserialization errors, connection errors, bugs
            tb = traceback.format_exc(limit=4).strip().replace("\n", "\n    ")
            self.fail(what, f"unexpected {type(e).__name__}: {e}\n    {tb}")
            return None
        # Checks may return a short note (e.g. the status an expected error had) for the log.
        self.ok(f"{what} ({result})" if isinstance(result, str) else what)
        return result


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
        return e
    except ServiceResponseException as e:
        raise CheckFailed(f"expected a 4xx ClientRequestException, got {describe_error(e)}")
    raise CheckFailed(f"expected a 4xx error, the call succeeded: {str(resp)[:300]}")


# ------------------------------------------------------------------------------------------
# Clients


def cts_client(project_id, ak=ADMIN_AK, sk=ADMIN_SK):
    return (
        CtsClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoint(ENDPOINT)
        .build()
    )


def iam_client(ak=ADMIN_AK, sk=ADMIN_SK, domain_id=DOMAIN):
    return (
        IamClient.new_builder()
        .with_credentials(GlobalCredentials(ak, sk, domain_id))
        .with_endpoint(ENDPOINT)
        .build()
    )


def list_traces(client, **filters):
    """ListTraces (trace_type=system) with the given filters; returns (traces, meta_data)."""
    resp = client.list_traces(ListTracesRequest(trace_type="system", **filters))
    expect(resp.status_code == 200, f"ListTraces status {resp.status_code}, expected 200")
    expect(isinstance(resp.traces, list), f"ListTraces: 'traces' missing or not a list: {resp}")
    expect(resp.meta_data is not None, "ListTraces: 'meta_data' missing")
    expect(
        resp.meta_data.count == len(resp.traces),
        f"meta_data.count={resp.meta_data.count} but {len(resp.traces)} traces returned",
    )
    return resp.traces, resp.meta_data


def summary(traces):
    return [(t.trace_name, t.service_type, t.resource_type, t.trace_rating) for t in traces]


# ------------------------------------------------------------------------------------------
# 1. CTS with the admin's key


def check_trace_list(cts):
    traces, _ = list_traces(cts, limit=200)
    expect(traces, "ListTraces on the admin project returned no traces")
    for t in traces:
        expect(t.trace_id and t.trace_name, f"trace without trace_id/trace_name: {t}")
        expect(isinstance(t.time, int) and t.time > 0, f"trace {t.trace_id}: time {t.time!r} is not ms")
        expect(isinstance(t.record_time, int), f"trace {t.trace_id}: record_time {t.record_time!r}")
        expect(t.code is None or isinstance(t.code, str), f"trace {t.trace_id}: code {t.code!r}")
        expect(t.user is not None and t.user.id, f"trace {t.trace_id}: no user")
    times = [t.time for t in traces]
    expect(times == sorted(times, reverse=True), f"traces not newest first: {times}")
    return traces


def check_admin_login_traced(traces):
    logins = [t for t in traces if t.trace_name == "createToken" and t.service_type == "IAM"]
    expect(logins, f"no createToken trace (service IAM) in {summary(traces)}")
    expect(
        any(t.user and t.user.name == "admin" for t in logins),
        f"no createToken trace by user 'admin': {[(t.user.name if t.user else None) for t in logins]}",
    )
    t = logins[0]
    expect(t.trace_rating == "normal", f"successful login rated {t.trace_rating!r}")
    expect(t.resource_type == "user", f"login trace resource_type {t.resource_type!r}")


def check_member_project_creation_traced():
    cts = cts_client(MEMBER_PROJECT)
    traces, _ = list_traces(cts, trace_name="createProject", limit=50)
    expect(traces, f"no createProject trace under project {MEMBER_PROJECT}")
    t = traces[0]
    expect(t.service_type == "IAM", f"createProject trace service_type {t.service_type!r}")
    expect(t.resource_type == "project", f"createProject trace resource_type {t.resource_type!r}")
    expect(t.resource_id == MEMBER_PROJECT, f"createProject trace resource_id {t.resource_id!r}")


def check_paging(cts):
    pages = []
    marker = None
    for _ in range(4):
        filters = {"limit": 1}
        if marker:
            filters["next"] = marker
        traces, meta = list_traces(cts, **filters)
        expect(len(traces) == 1, f"page {len(pages) + 1} with limit=1 returned {len(traces)} traces")
        pages.append(traces[0])
        marker = meta.marker
        if not marker:
            break
        expect(marker == traces[0].trace_id, f"marker {marker!r} is not the page's last trace id")
    expect(len(pages) >= 2, f"only {len(pages)} page(s): the admin project should hold several traces")
    ids = [t.trace_id for t in pages]
    expect(len(set(ids)) == len(ids), f"paging repeated traces: {ids}")
    times = [t.time for t in pages]
    expect(all(a >= b for a, b in zip(times, times[1:])), f"page times increase: {times}")
    # The pages must be the start of the unpaged list.
    whole, _ = list_traces(cts, limit=len(pages))
    expect(
        [t.trace_id for t in whole] == ids,
        f"pages {ids} differ from a single list of {len(pages)}: {[t.trace_id for t in whole]}",
    )
    return len(pages)


def check_filter(cts, attr, value, **filters):
    traces, _ = list_traces(cts, limit=200, **{attr: value}, **filters)
    expect(traces, f"{attr}={value!r} matched no trace")
    wrong = [(t.trace_id, getattr(t, attr)) for t in traces if getattr(t, attr) != value]
    expect(not wrong, f"{attr}={value!r} returned other traces: {wrong}")
    return len(traces)


def check_trackers(cts):
    resp = cts.list_trackers(ListTrackersRequest())
    expect(resp.status_code == 200, f"ListTrackers status {resp.status_code}")
    system = [t for t in resp.trackers or [] if t.tracker_name == "system"]
    expect(system, f"no 'system' tracker in {resp.trackers}")
    t = system[0]
    expect(t.tracker_type == "system", f"system tracker has tracker_type {t.tracker_type!r}")
    expect(t.status == "enabled", f"system tracker status {t.status!r}")
    expect(t.id, "system tracker without id")
    expect(isinstance(t.create_time, int) and t.create_time > 0, f"create_time {t.create_time!r}")
    named = cts.list_trackers(ListTrackersRequest(tracker_name="system"))
    expect([x.id for x in named.trackers or []] == [t.id], f"tracker_name=system gave {named.trackers}")


def check_second_tracker_refused(cts):
    body = CreateTrackerRequestBody(tracker_type="system", tracker_name="system")
    e = expect_client_error(lambda: cts.create_tracker(CreateTrackerRequest(body=body)))
    return f"{e.status_code} {e.error_code}"


def check_quotas(cts):
    resp = cts.list_quotas(ListQuotasRequest())
    expect(resp.status_code == 200, f"ListQuotas status {resp.status_code}")
    quotas = {q.type: q for q in resp.resources or []}
    expect("system_tracker" in quotas, f"no system_tracker quota in {resp.resources}")
    q = quotas["system_tracker"]
    expect(isinstance(q.used, int) and isinstance(q.quota, int), f"used/quota not ints: {q}")
    expect(q.used == 1 and q.quota >= 1, f"system_tracker used={q.used} quota={q.quota}")


def check_cts():
    cts = cts_client(ADMIN_PROJECT)
    traces = R.run("CTS ListTraces trace_type=system returns well-formed traces, newest first",
                   check_trace_list, cts)
    if traces is not None:
        R.run("CTS createToken trace (service IAM) for the admin's login", check_admin_login_traced, traces)
    R.run("CTS createProject trace under the member project (read by the admin)",
          check_member_project_creation_traced)
    R.run("CTS ListTrackers returns the system tracker", check_trackers, cts)
    R.run("CTS CreateTracker for an existing system tracker fails with a 4xx",
          check_second_tracker_refused, cts)
    R.run("CTS ListQuotas", check_quotas, cts)
    # After the tracker calls, so the project holds several traces to page through.
    R.run("CTS paging with limit=1 and next=marker", check_paging, cts)
    R.run("CTS filter service_type=IAM", check_filter, cts, "service_type", "IAM")
    R.run("CTS filter trace_rating=normal", check_filter, cts, "trace_rating", "normal")
    R.run("CTS filter resource_type=user", check_filter, cts, "resource_type", "user")
    R.run("CTS filter trace_name=createToken", check_filter, cts, "trace_name", "createToken")
    R.run("CTS filters combined (service_type=IAM, trace_name=createToken, resource_type=user)",
          check_filter, cts, "trace_name", "createToken", service_type="IAM", resource_type="user")
    R.run("CTS filter trace_name that matches nothing returns an empty list",
          lambda: expect(not list_traces(cts, trace_name="noSuchOperation")[0], "traces returned"))


# ------------------------------------------------------------------------------------------
# 2. IAM permanent access keys


def create_key(iam, description):
    resp = iam.create_permanent_access_key(
        CreatePermanentAccessKeyRequest(
            body=CreatePermanentAccessKeyRequestBody(
                credential=CreateCredentialOption(user_id=USER_ID, description=description)
            )
        )
    )
    expect(resp.status_code in (200, 201), f"CreatePermanentAccessKey status {resp.status_code}")
    c = resp.credential
    expect(c is not None, "CreatePermanentAccessKey: no 'credential' in the response")
    expect(c.access and c.secret, f"no access/secret in {c}")
    expect(c.user_id == USER_ID, f"user_id {c.user_id!r}, expected {USER_ID!r}")
    expect(c.status == "active", f"new key status {c.status!r}")
    expect(isinstance(c.create_time, str) and c.create_time, f"create_time {c.create_time!r}")
    expect(c.description == description, f"description {c.description!r}, expected {description!r}")
    return c.access, c.secret


def list_keys(iam):
    resp = iam.list_permanent_access_keys(ListPermanentAccessKeysRequest(user_id=USER_ID))
    expect(resp.status_code == 200, f"ListPermanentAccessKeys status {resp.status_code}")
    expect(isinstance(resp.credentials, list), f"'credentials' missing: {resp}")
    return resp.credentials


def check_key_listed(iam, ak):
    keys = list_keys(iam)
    mine = [k for k in keys if k.access == ak]
    expect(mine, f"{ak} not in {[k.access for k in keys]}")
    expect(all(k.user_id == USER_ID for k in keys), f"keys of other users listed: {keys}")
    raw = iam.list_permanent_access_keys(ListPermanentAccessKeysRequest(user_id=USER_ID)).raw_content
    expect(b"secret" not in (raw or b""), f"the list shows a secret: {raw[:300]!r}")


def check_key_shown(iam, ak):
    resp = iam.show_permanent_access_key(ShowPermanentAccessKeyRequest(access_key=ak))
    expect(resp.status_code == 200, f"ShowPermanentAccessKey status {resp.status_code}")
    c = resp.credential
    expect(c is not None and c.access == ak, f"shown credential {c}")
    expect(c.user_id == USER_ID and c.status == "active", f"shown credential {c}")
    expect(b"secret" not in (resp.raw_content or b""), "the key's secret is shown")


def update_status(iam, ak, status):
    resp = iam.update_permanent_access_key(
        UpdatePermanentAccessKeyRequest(
            access_key=ak,
            body=UpdatePermanentAccessKeyRequestBody(credential=UpdateCredentialOption(status=status)),
        )
    )
    expect(resp.status_code == 200, f"UpdatePermanentAccessKey status {resp.status_code}")
    expect(resp.credential is not None, "UpdatePermanentAccessKey: no 'credential'")
    expect(resp.credential.status == status, f"status after update: {resp.credential.status!r}")
    shown = iam.show_permanent_access_key(ShowPermanentAccessKeyRequest(access_key=ak)).credential
    expect(shown.status == status, f"ShowPermanentAccessKey after update says {shown.status!r}")


def check_key_works(ak, sk):
    traces, _ = list_traces(cts_client(MEMBER_PROJECT, ak, sk), limit=5)
    return len(traces)


def check_key_refused(ak, sk, project_id, statuses):
    e = expect_client_error(lambda: list_traces(cts_client(project_id, ak, sk), limit=5), statuses)
    return f"{e.status_code} {e.error_code}"


def check_key_limit(iam, held, created):
    """Creates keys up to the limit, then one more, which must fail with a 4xx. Every key
    created is appended to `created`, for cleanup."""
    for i in range(KEY_LIMIT - held):
        created.append(create_key(iam, f"nimbus sdk check extra {i}")[0])
    keys = list_keys(iam)
    expect(len(keys) == KEY_LIMIT, f"{len(keys)} keys held after filling the quota: {[k.access for k in keys]}")
    request = CreatePermanentAccessKeyRequest(
        body=CreatePermanentAccessKeyRequestBody(credential=CreateCredentialOption(user_id=USER_ID))
    )
    try:
        resp = iam.create_permanent_access_key(request)
    except ClientRequestException as e:
        expect(e.error_code and e.error_msg, f"error without error_code/error_msg: {describe_error(e)}")
        expect(len(list_keys(iam)) == KEY_LIMIT, "the refused key was stored anyway")
        return f"{e.status_code} {e.error_code}"
    if resp.credential is not None and resp.credential.access:
        created.append(resp.credential.access)
    raise CheckFailed(f"key number {KEY_LIMIT + 1} was created (status {resp.status_code})")


def delete_key(iam, ak):
    resp = iam.delete_permanent_access_key(DeletePermanentAccessKeyRequest(access_key=ak))
    expect(resp.status_code == 204, f"DeletePermanentAccessKey status {resp.status_code}, expected 204")


def check_key_gone(iam, ak):
    e = expect_client_error(lambda: iam.show_permanent_access_key(ShowPermanentAccessKeyRequest(access_key=ak)),
                            [404])
    expect(ak not in [k.access for k in list_keys(iam)], f"{ak} still listed after deletion")
    return f"{e.status_code} {e.error_code}"


def check_iam():
    iam = iam_client()
    held = R.run("IAM ListPermanentAccessKeys for the user before the test", lambda: len(list_keys(iam)))
    key = R.run("IAM CreatePermanentAccessKey for the user returns access and secret",
                create_key, iam, "nimbus sdk check")
    if key is None:
        R.fail("IAM access-key checks", "skipped: no key was created")
        return
    ak, sk = key
    R.run("IAM ListPermanentAccessKeys(user_id) shows the key, without secret", check_key_listed, iam, ak)
    R.run("IAM ShowPermanentAccessKey", check_key_shown, iam, ak)
    R.run("IAM UpdatePermanentAccessKey status=inactive", update_status, iam, ak, "inactive")
    R.run("CTS refuses the inactive key with 401", check_key_refused, ak, sk, MEMBER_PROJECT, [401])
    R.run("IAM UpdatePermanentAccessKey status=active", update_status, iam, ak, "active")
    R.run("CTS ListTraces on the member project with the user's new key", check_key_works, ak, sk)
    R.run("CTS ListTraces on the admin project with the user's key fails with 404",
          check_key_refused, ak, sk, ADMIN_PROJECT, [404])
    R.run("CTS with a wrong secret fails with 401", check_key_refused, ak, sk[:-4] + "XXXX", MEMBER_PROJECT, [401])
    extra = []
    if held is not None:
        R.run(f"IAM key limit: a key beyond {KEY_LIMIT} per user fails with a 4xx",
              check_key_limit, iam, held + 1, extra)
    R.run("IAM DeletePermanentAccessKey returns 204", delete_key, iam, ak)
    R.run("IAM ShowPermanentAccessKey of the deleted key fails with 404", check_key_gone, iam, ak)
    R.run("CTS refuses the deleted key with 401", check_key_refused, ak, sk, MEMBER_PROJECT, [401])
    for other in extra:
        R.run(f"IAM DeletePermanentAccessKey of the extra key {other}", delete_key, iam, other)


# ------------------------------------------------------------------------------------------
# 3. The IAM calls are traced


def check_iam_traced(trace_name):
    # IAM calls signed with X-Domain-Id are filed under the domain (there is no project).
    cts = cts_client(DOMAIN)
    traces, _ = list_traces(cts, trace_name=trace_name, limit=50)
    expect(traces, f"no {trace_name} trace under {DOMAIN!r}")
    t = traces[0]
    expect(t.service_type == "IAM", f"{trace_name} trace service_type {t.service_type!r}")
    expect(t.user is not None and t.user.name == "admin", f"{trace_name} trace by {t.user}")
    expect(t.trace_rating == "normal", f"{trace_name} trace rated {t.trace_rating!r}")


# ------------------------------------------------------------------------------------------
# TMS: key/value tags through the one tag service (a project is a taggable resource).


def tms_client(ak=ADMIN_AK, sk=ADMIN_SK):
    return (
        TmsClient.new_builder()
        .with_credentials(GlobalCredentials(ak, sk, DOMAIN))
        .with_endpoint(ENDPOINT)
        .build()
    )


def tag_project(tms, project_id, tags, delete=False):
    resources = [ResourceTagBody(resource_id=project_id, resource_type="project")]
    if delete:
        body = ReqDeleteTag(project_id=project_id, resources=resources,
                            tags=[DeleteTagRequest(key=k, value=v) for k, v in tags])
        return tms.delete_resource_tag(DeleteResourceTagRequest(body=body))
    body = ReqCreateTag(project_id=project_id, resources=resources,
                        tags=[CreateTagRequest(key=k, value=v) for k, v in tags])
    return tms.create_resource_tag(CreateResourceTagRequest(body=body))


def project_tags(tms, project_id):
    resp = tms.show_resource_tag(ShowResourceTagRequest(resource_id=project_id, resource_type="project"))
    return {t.key: t.value for t in resp.tags or []}


def check_tag_round_trip(tms):
    resp = tag_project(tms, MEMBER_PROJECT, [("env", "prod"), ("team", "web")])
    expect(not resp.failed_resources, f"batch-create failed: {resp.failed_resources}")
    tags = project_tags(tms, MEMBER_PROJECT)
    expect(tags == {"env": "prod", "team": "web"}, f"tags after create: {tags}")
    tag_project(tms, MEMBER_PROJECT, [("env", "staging")])
    expect(project_tags(tms, MEMBER_PROJECT)["env"] == "staging", "a second create must overwrite the value")
    resp = tag_project(tms, MEMBER_PROJECT, [("team", "web")], delete=True)
    expect(not resp.failed_resources, f"batch-delete failed: {resp.failed_resources}")
    tags = project_tags(tms, MEMBER_PROJECT)
    expect(tags == {"env": "staging"}, f"tags after delete: {tags}")


def check_tag_failures(tms):
    resp = tag_project(tms, "0" * 32, [("env", "x")])
    failed = resp.failed_resources or []
    expect(len(failed) == 1 and failed[0].error_code, f"an unknown resource must be reported: {failed}")
    e = expect_client_error(lambda: tag_project(tms, MEMBER_PROJECT, [("_sys_x", "y")]), {400})
    return f"bad key refused with {e.status_code}"


def check_tms():
    tms = tms_client()
    R.run("TMS batch-create, show, overwrite and batch-delete tags on a project", check_tag_round_trip, tms)
    R.run("TMS reports unknown resources and refuses bad keys", check_tag_failures, tms)


# ------------------------------------------------------------------------------------------
# IMS: the Glance-compatible calls at the root and the native image list.


def ims_client(project_id=None, ak=ADMIN_AK, sk=ADMIN_SK):
    return (
        ImsClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, project_id or ADMIN_PROJECT))
        .with_endpoint(ENDPOINT)
        .build()
    )


def check_ims_round_trip(ims):
    body = GlanceCreateImageMetadataRequestBody(
        name="ims-check", container_format="bare", disk_format="qcow2", min_disk=1, min_ram=256,
        tags=["from-ims"], visibility="private", os_version="Nimbus Tiny 1",
    )
    created = ims.glance_create_image_metadata(GlanceCreateImageMetadataRequest(body=body))
    expect(created.id and created.status == "queued", f"created: {created}")
    shown = ims.glance_show_image(GlanceShowImageRequest(image_id=created.id))
    expect(shown.name == "ims-check" and shown.min_ram == 256, f"shown: {shown}")
    listed = ims.glance_list_images(GlanceListImagesRequest(name="ims-check"))
    expect([i.id for i in listed.images or []] == [created.id], f"glance list: {listed.images}")
    native = ims.list_images(ListImagesRequest(imagetype="private", name="ims-check"))
    images = native.images or []
    expect(len(images) == 1 and images[0].id == created.id, f"cloudimages: {images}")
    expect(images[0].imagetype == "private", f"__imagetype {images[0].imagetype!r}")
    expect(images[0].os_version == "Nimbus Tiny 1", f"__os_version {images[0].os_version!r}")
    gold = ims.list_images(ListImagesRequest(imagetype="gold", name="ims-check"))
    expect(not gold.images, "a private image must not be listed as gold")
    ims.glance_delete_image(GlanceDeleteImageRequest(image_id=created.id))
    e = expect_client_error(lambda: ims.glance_show_image(GlanceShowImageRequest(image_id=created.id)), {404})
    return f"deleted image answers {e.status_code}"


def check_ims():
    ims = ims_client()
    R.run("IMS Glance-compatible create, show, list, native cloudimages list and delete", check_ims_round_trip, ims)


def check_traced():
    R.run("CTS createAccessKey trace for the admin's IAM call", check_iam_traced, "createAccessKey")
    R.run("CTS deleteCredential trace for the admin's IAM call", check_iam_traced, "deleteCredential")


def main():
    missing = [name for name, value in ENV.items() if not value]
    if missing:
        print(f"FAIL: missing environment variables: {', '.join(missing)}")
        print("huawei-sdk: 0 passed, 1 failed")
        return 1
    check_cts()
    check_iam()
    check_tms()
    check_ims()
    check_traced()
    print(f"huawei-sdk: {R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
