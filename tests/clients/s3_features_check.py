"""Checks Nimbus's S3 bucket and object features with the unmodified boto3 SDK.

Run by a Rust integration test as ``.venv/bin/python tests/clients/s3_features_check.py``.

Environment (all required):
  NIMBUS_S3_ENDPOINT     http://127.0.0.1:PORT (the S3 listener)
  NIMBUS_ACCESS_KEY      an access key of a member of project A (the admin's)
  NIMBUS_SECRET_KEY      its secret
  NIMBUS_OTHER_ACCESS_KEY / NIMBUS_OTHER_SECRET_KEY   a key of a member of project B
  NIMBUS_OTHER_PROJECT_ID   project B's id (the account in arn:aws:iam::<id>:root)
  NIMBUS_REGION          the region name (eu-west-0)
  NIMBUS_LIFECYCLE_DAY_SECS  how many seconds one lifecycle "day" lasts in that region (e.g. 2);
                         the lifecycle job is expected to run every second

The checks, each on a bucket of its own (``feat-...``) so that one failing does not spoil the
others: versioning (version ids, versioned GET and DELETE, delete markers, suspended versioning
and the "null" version, a bad status, BucketNotEmpty while only old versions remain,
NoSuchVersion), bucket and object tagging (limits, duplicates), CORS (configuration, preflight
allowed and refused, CORS headers on a signed GET), bucket policies (another project's account
allowed or denied, anonymous access with Principal "*", Deny over Allow, malformed and oversized
documents), canned ACLs (public-read bucket listing and object reads without credentials, the
grants GetBucketAcl and GetObjectAcl show, back to private), lifecycle rules (configuration,
validation, transitions STANDARD -> STANDARD_IA -> GLACIER then expiration, on the region's short
days), server-side encryption SSE-S3 (per object and by bucket default, ranges of an encrypted
object, multipart, SSE-KMS refused), virtual-host style addressing (``<bucket>.localhost``), and
finally every bucket emptied of all its versions and deleted.

Anonymous requests are plain unsigned HTTP through urllib. Prints ``ok: ...`` or ``FAIL: ...``
per check, then ``s3-features: N passed, M failed``; exits 1 if anything failed.
"""

from checklib import check, s3_error, summary
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    """``localhost`` and every ``*.localhost`` name (virtual-host style buckets) is 127.0.0.1."""
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and (name == "localhost" or name.endswith(".localhost")):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo

import boto3  # noqa: E402 - after the resolver wrapper, so that every connection goes through it
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ENDPOINT = os.environ["NIMBUS_S3_ENDPOINT"].rstrip("/")
REGION = os.environ["NIMBUS_REGION"]
OTHER_PROJECT = os.environ["NIMBUS_OTHER_PROJECT_ID"]
DAY = float(os.environ["NIMBUS_LIFECYCLE_DAY_SECS"])
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def client(ak, sk, endpoint=ENDPOINT, style="path"):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION,
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 1}, signature_version="s3v4"),
    )


AK, SK = os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"]
s3 = client(AK, SK)
other = client(os.environ["NIMBUS_OTHER_ACCESS_KEY"], os.environ["NIMBUS_OTHER_SECRET_KEY"])


error_code = s3_error


def create(bucket, **kw):
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}, **kw)


# Unsigned requests, as a browser or curl would send them; no proxy from the environment.
_anon = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def anon(path, method="GET", headers=None):
    """An unsigned request to ENDPOINT + path; returns (status, headers, body) whatever the status."""
    req = urllib.request.Request(ENDPOINT + path, method=method, headers=headers or {})
    try:
        with _anon.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def tags(tag_set):
    return sorted((t["Key"], t["Value"]) for t in tag_set)


# ---------------------------------------------------------------- versioning

@check("versioning: version ids, versioned GET, delete markers, suspended 'null' version, bad status, "
       "BucketNotEmpty with only old versions, NoSuchVersion")
def _():
    B, K = "feat-versioning", "doc.txt"
    create(B)
    assert "Status" not in s3.get_bucket_versioning(Bucket=B)
    s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=B)["Status"] == "Enabled"

    bodies = [b"first version", b"second version", b"third version"]
    v1, v2, v3 = ids = [s3.put_object(Bucket=B, Key=K, Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == 3 and "null" not in ids, ids
    assert s3.get_object(Bucket=B, Key=K, VersionId=v1)["Body"].read() == bodies[0]
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == bodies[2]

    versions = s3.list_object_versions(Bucket=B)["Versions"]
    assert [v["Key"] for v in versions] == [K] * 3, versions
    assert sorted(v["VersionId"] for v in versions) == sorted(ids), versions
    assert [v["IsLatest"] for v in versions].count(True) == 1, versions
    assert versions[0]["IsLatest"] and versions[0]["VersionId"] == v3, versions

    d = s3.delete_object(Bucket=B, Key=K)
    assert d.get("DeleteMarker") is True and d.get("VersionId"), d
    marker = d["VersionId"]
    assert error_code(lambda: s3.get_object(Bucket=B, Key=K)) == ("NoSuchKey", 404)
    r = s3.list_object_versions(Bucket=B)
    markers = r.get("DeleteMarkers", [])
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [(K, marker, True)], markers
    assert len(r["Versions"]) == 3 and not any(v["IsLatest"] for v in r["Versions"]), r["Versions"]
    assert s3.get_object(Bucket=B, Key=K, VersionId=v2)["Body"].read() == bodies[1]

    s3.delete_object(Bucket=B, Key=K, VersionId=marker)
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == bodies[2]
    assert not s3.list_object_versions(Bucket=B).get("DeleteMarkers")
    s3.delete_object(Bucket=B, Key=K, VersionId=v3)
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == bodies[1]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B)["Contents"]] == [K]

    code = error_code(lambda: s3.get_object(Bucket=B, Key=K, VersionId="00000000000000000000000000000000"))
    assert code == ("NoSuchVersion", 404), code

    s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=B)["Status"] == "Suspended"
    s3.put_object(Bucket=B, Key=K, Body=b"suspended one")
    s3.put_object(Bucket=B, Key=K, Body=b"suspended two")
    versions = s3.list_object_versions(Bucket=B)["Versions"]
    nulls = [v for v in versions if v["VersionId"] == "null"]
    assert len(nulls) == 1 and nulls[0]["IsLatest"], versions
    assert sorted(v["VersionId"] for v in versions) == sorted(["null", v1, v2]), versions
    assert [v["IsLatest"] for v in versions].count(True) == 1, versions
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == b"suspended two"
    assert s3.get_object(Bucket=B, Key=K, VersionId="null")["Body"].read() == b"suspended two"
    assert s3.get_object(Bucket=B, Key=K, VersionId=v1)["Body"].read() == bodies[0]

    # botocore does not check enum values, so the bad status reaches the server as it is.
    code = error_code(lambda: s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Bogus"}))
    assert code == ("MalformedXML", 400), code
    assert s3.get_bucket_versioning(Bucket=B)["Status"] == "Suspended"

    for o in s3.list_objects_v2(Bucket=B).get("Contents", []):
        s3.delete_object(Bucket=B, Key=o["Key"])
    assert s3.list_objects_v2(Bucket=B)["KeyCount"] == 0
    r = s3.list_object_versions(Bucket=B)
    assert r.get("Versions") and r.get("DeleteMarkers"), r
    assert error_code(lambda: s3.delete_bucket(Bucket=B)) == ("BucketNotEmpty", 409)


# ---------------------------------------------------------------- tagging

@check("bucket tagging: put, get, delete (NoSuchTagSet), duplicate keys refused (InvalidTag)")
def _():
    B = "feat-bucket-tagging"
    create(B)
    want = [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "storage"}]
    s3.put_bucket_tagging(Bucket=B, Tagging={"TagSet": want})
    assert tags(s3.get_bucket_tagging(Bucket=B)["TagSet"]) == tags(want)
    s3.delete_bucket_tagging(Bucket=B)
    assert error_code(lambda: s3.get_bucket_tagging(Bucket=B)) == ("NoSuchTagSet", 404)
    dup = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    code = error_code(lambda: s3.put_bucket_tagging(Bucket=B, Tagging={"TagSet": dup}))
    assert code == ("InvalidTag", 400), code


@check("object tagging: tags on PUT, replace, delete (empty tag set), more than 10 refused (InvalidTag)")
def _():
    B, K = "feat-object-tagging", "tagged.txt"
    create(B)
    s3.put_object(Bucket=B, Key=K, Body=b"tagged", Tagging="a=1&b=2")
    assert tags(s3.get_object_tagging(Bucket=B, Key=K)["TagSet"]) == [("a", "1"), ("b", "2")]
    s3.put_object_tagging(Bucket=B, Key=K, Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert tags(s3.get_object_tagging(Bucket=B, Key=K)["TagSet"]) == [("c", "3")]
    s3.head_object(Bucket=B, Key=K)
    s3.delete_object_tagging(Bucket=B, Key=K)
    assert s3.get_object_tagging(Bucket=B, Key=K).get("TagSet", []) == []
    eleven = [{"Key": f"k{i}", "Value": str(i)} for i in range(11)]
    code = error_code(lambda: s3.put_object_tagging(Bucket=B, Key=K, Tagging={"TagSet": eleven}))
    assert code == ("InvalidTag", 400), code
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == b"tagged"


# ---------------------------------------------------------------- CORS

APP = "https://app.example"


def preflight(bucket, key, origin=APP, method="PUT"):
    return anon(f"/{bucket}/{key}", "OPTIONS", {
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})


def header_list(value):
    return [v.strip().lower() for v in (value or "").split(",") if v.strip()]


@check("CORS: configuration round trip, preflight allowed and refused, headers on a signed GET, delete")
def _():
    B, K = "feat-cors", "page.html"
    create(B)
    assert error_code(lambda: s3.get_bucket_cors(Bucket=B)) == ("NoSuchCORSConfiguration", 404)
    rule = {"AllowedOrigins": [APP], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}
    s3.put_bucket_cors(Bucket=B, CORSConfiguration={"CORSRules": [rule]})
    got = s3.get_bucket_cors(Bucket=B)["CORSRules"]
    assert len(got) == 1 and {k: got[0].get(k) for k in rule} == rule, got
    s3.put_object(Bucket=B, Key=K, Body=b"<html></html>")

    status, headers, _ = preflight(B, K)
    assert status == 200, status
    assert headers.get("Access-Control-Allow-Origin") == APP, dict(headers)
    assert "put" in header_list(headers.get("Access-Control-Allow-Methods")), dict(headers)
    assert headers.get("Access-Control-Max-Age") == "600", dict(headers)
    assert preflight(B, K, origin="https://evil.example")[0] == 403
    assert preflight(B, K, method="DELETE")[0] == 403

    # A browser adds Origin itself, after the SDK signed the request: so add it unsigned, at send time.
    browser = client(AK, SK)

    def add_origin(request, **_kw):
        request.headers["Origin"] = APP
    browser.meta.events.register("before-send.s3.GetObject", add_origin)
    g = browser.get_object(Bucket=B, Key=K)
    assert g["Body"].read() == b"<html></html>"
    h = g["ResponseMetadata"]["HTTPHeaders"]
    assert h.get("access-control-allow-origin") == APP, h
    assert "etag" in header_list(h.get("access-control-expose-headers")), h

    s3.delete_bucket_cors(Bucket=B)
    assert error_code(lambda: s3.get_bucket_cors(Bucket=B)) == ("NoSuchCORSConfiguration", 404)
    assert preflight(B, K)[0] == 403


# ---------------------------------------------------------------- bucket policy

def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


@check("bucket policy: another project's account allowed GetObject only, Principal '*' for anonymous "
       "reads, Deny over Allow, malformed and oversized documents refused, delete")
def _():
    B, K, BODY = "feat-policy", "shared.txt", b"shared with a policy"
    create(B)
    assert error_code(lambda: s3.get_bucket_policy(Bucket=B)) == ("NoSuchBucketPolicy", 404)
    s3.put_object(Bucket=B, Key=K, Body=BODY)
    assert error_code(lambda: other.get_object(Bucket=B, Key=K)) == ("AccessDenied", 403)

    account = {"AWS": [f"arn:aws:iam::{OTHER_PROJECT}:root"]}
    read = policy({"Sid": "read", "Effect": "Allow", "Principal": account, "Action": ["s3:GetObject"],
                   "Resource": [f"arn:aws:s3:::{B}/*"]})
    s3.put_bucket_policy(Bucket=B, Policy=json.dumps(read))
    assert other.get_object(Bucket=B, Key=K)["Body"].read() == BODY
    assert error_code(lambda: other.put_object(Bucket=B, Key="intruder", Body=b"x")) == ("AccessDenied", 403)
    assert error_code(lambda: other.list_objects_v2(Bucket=B)) == ("AccessDenied", 403)
    assert json.loads(s3.get_bucket_policy(Bucket=B)["Policy"]) == read
    assert anon(f"/{B}/{K}")[0] == 403

    public = policy({"Sid": "public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{B}/*"})
    s3.put_bucket_policy(Bucket=B, Policy=json.dumps(public))
    status, _, body = anon(f"/{B}/{K}")
    assert (status, body) == (200, BODY), (status, body)
    assert anon(f"/{B}")[0] == 403, "listing is not granted"
    assert error_code(lambda: s3.head_object(Bucket=B, Key="intruder"))[1] == 404

    deny = policy(
        {"Sid": "public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{B}/*"},
        {"Sid": "notthem", "Effect": "Deny", "Principal": account, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{B}/*"})
    s3.put_bucket_policy(Bucket=B, Policy=json.dumps(deny))
    assert error_code(lambda: other.get_object(Bucket=B, Key=K)) == ("AccessDenied", 403)
    status, _, body = anon(f"/{B}/{K}")
    assert (status, body) == (200, BODY), (status, body)
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == BODY

    code = error_code(lambda: s3.put_bucket_policy(Bucket=B, Policy='{"Version": "2012-10-17", "Statement": ['))
    assert code == ("MalformedPolicy", 400), code
    statements, i = [], 0
    while len(json.dumps(policy(*statements))) < 25 * 1024:
        statements.append({"Sid": f"s{i:05d}", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{B}/prefix-{i:05d}/*"})
        i += 1
    code = error_code(lambda: s3.put_bucket_policy(Bucket=B, Policy=json.dumps(policy(*statements))))
    assert code == ("InvalidPolicyDocument", 400), code
    assert json.loads(s3.get_bucket_policy(Bucket=B)["Policy"]) == deny, "a refused policy replaced nothing"

    s3.delete_bucket_policy(Bucket=B)
    assert anon(f"/{B}/{K}")[0] == 403
    assert error_code(lambda: s3.get_bucket_policy(Bucket=B)) == ("NoSuchBucketPolicy", 404)


# ---------------------------------------------------------------- canned ACLs

def grants(acl):
    out = []
    for g in acl["Grants"]:
        grantee = g["Grantee"]
        out.append((grantee.get("Type"), grantee.get("ID") or grantee.get("URI"), g["Permission"]))
    return out


@check("canned ACL public-read bucket: anonymous listing, owner FULL_CONTROL + AllUsers READ grants, "
       "no writes for others; back to private")
def _():
    B, K = "feat-acl-public", "listed.txt"
    create(B, ACL="public-read")
    s3.put_object(Bucket=B, Key=K, Body=b"listed")
    status, _, body = anon(f"/{B}")
    assert status == 200, (status, body)
    assert f"<Key>{K}</Key>".encode() in body, body
    acl = s3.get_bucket_acl(Bucket=B)
    owner = acl["Owner"]["ID"]
    assert owner, acl
    g = grants(acl)
    assert ("CanonicalUser", owner, "FULL_CONTROL") in g, g
    assert ("Group", ALL_USERS, "READ") in g, g
    assert error_code(lambda: other.put_object(Bucket=B, Key="intruder", Body=b"x"))[1] == 403
    assert error_code(lambda: s3.head_object(Bucket=B, Key="intruder"))[1] == 404

    s3.put_bucket_acl(Bucket=B, ACL="private")
    assert anon(f"/{B}")[0] == 403
    g = grants(s3.get_bucket_acl(Bucket=B))
    assert not [x for x in g if x[1] == ALL_USERS], g
    assert ("CanonicalUser", owner, "FULL_CONTROL") in g, g


@check("canned ACL public-read object in a private bucket: anonymous GET of it only, AllUsers READ grant")
def _():
    B = "feat-acl-private"
    create(B)
    s3.put_object(Bucket=B, Key="public.txt", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=B, Key="private.txt", Body=b"for us")
    status, _, body = anon(f"/{B}/public.txt")
    assert (status, body) == (200, b"for everyone"), (status, body)
    assert anon(f"/{B}/private.txt")[0] == 403
    assert anon(f"/{B}")[0] == 403
    acl = s3.get_object_acl(Bucket=B, Key="public.txt")
    assert ("Group", ALL_USERS, "READ") in grants(acl), acl["Grants"]
    assert ("CanonicalUser", acl["Owner"]["ID"], "FULL_CONTROL") in grants(acl), acl["Grants"]
    assert not [x for x in grants(s3.get_object_acl(Bucket=B, Key="private.txt")) if x[1] == ALL_USERS]


# ---------------------------------------------------------------- lifecycle

TIER_RULE = {
    "ID": "tier", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
    "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}, {"Days": 2, "StorageClass": "GLACIER"}],
    "Expiration": {"Days": 4},
}


@check("lifecycle configuration: none (404), put and get, invalid rules refused (InvalidArgument), delete")
def _():
    B = "feat-lifecycle-rules"
    create(B)
    code = error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=B))
    assert code == ("NoSuchLifecycleConfiguration", 404), code
    s3.put_bucket_lifecycle_configuration(Bucket=B, LifecycleConfiguration={"Rules": [TIER_RULE]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=B)["Rules"]
    assert len(rules) == 1, rules
    r = rules[0]
    assert (r["ID"], r["Filter"], r["Status"]) == ("tier", {"Prefix": "logs/"}, "Enabled"), r
    assert sorted((t["Days"], t["StorageClass"]) for t in r["Transitions"]) == \
        [(1, "STANDARD_IA"), (2, "GLACIER")], r["Transitions"]
    assert r["Expiration"] == {"Days": 4}, r["Expiration"]

    zero = {"ID": "zero", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 0}}
    code = error_code(lambda: s3.put_bucket_lifecycle_configuration(
        Bucket=B, LifecycleConfiguration={"Rules": [zero]}))
    assert code == ("InvalidArgument", 400), code
    backwards = {"ID": "backwards", "Filter": {"Prefix": "x/"}, "Status": "Enabled",
                 "Transitions": [{"Days": 3, "StorageClass": "STANDARD_IA"}, {"Days": 2, "StorageClass": "GLACIER"}]}
    code = error_code(lambda: s3.put_bucket_lifecycle_configuration(
        Bucket=B, LifecycleConfiguration={"Rules": [backwards]}))
    assert code == ("InvalidArgument", 400), code
    assert [x["ID"] for x in s3.get_bucket_lifecycle_configuration(Bucket=B)["Rules"]] == ["tier"]

    s3.delete_bucket_lifecycle(Bucket=B)
    code = error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=B))
    assert code == ("NoSuchLifecycleConfiguration", 404), code


@check("lifecycle rules run: logs/a goes STANDARD_IA after 1 day, GLACIER after 2, expires after 4; keep/b stays")
def _():
    B = "feat-lifecycle"
    create(B)
    s3.put_bucket_lifecycle_configuration(Bucket=B, LifecycleConfiguration={"Rules": [TIER_RULE]})
    s3.put_object(Bucket=B, Key="logs/a", Body=b"log line")
    s3.put_object(Bucket=B, Key="keep/b", Body=b"kept")
    start = time.monotonic()
    states, seen_at = [], {}
    while time.monotonic() - start < 90:
        try:
            state = s3.head_object(Bucket=B, Key="logs/a").get("StorageClass", "STANDARD")
        except ClientError as e:
            if e.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
            state = "gone"
        if not states or states[-1] != state:
            states.append(state)
            seen_at[state] = time.monotonic() - start
        kept = s3.head_object(Bucket=B, Key="keep/b")
        assert "StorageClass" not in kept, ("keep/b", kept.get("StorageClass"), states)
        if state == "gone":
            break
        time.sleep(0.5)
    assert states in (["STANDARD", "STANDARD_IA", "GLACIER", "gone"], ["STANDARD_IA", "GLACIER", "gone"]), \
        (states, seen_at)
    # Not early (a second of slack for the object's time being taken a little before the PUT returned).
    assert seen_at["STANDARD_IA"] >= 1 * DAY - 1, seen_at
    assert seen_at["GLACIER"] >= 2 * DAY - 1, seen_at
    assert seen_at["gone"] >= 4 * DAY - 1, seen_at
    assert error_code(lambda: s3.get_object(Bucket=B, Key="logs/a")) == ("NoSuchKey", 404)
    assert s3.get_object(Bucket=B, Key="keep/b")["Body"].read() == b"kept"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B)["Contents"]] == ["keep/b"]


# ---------------------------------------------------------------- server-side encryption

SSE_KMS_CODES = {"InvalidArgument", "InvalidEncryptionAlgorithmError", "InvalidRequest", "KMS.NotFoundException"}


def sse_default(bucket):
    return s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


@check("SSE-S3: per-object AES256, ranges of an encrypted object, bucket default, SSE-KMS refused (400)")
def _():
    B = "feat-sse"
    create(B)
    code = error_code(lambda: s3.get_bucket_encryption(Bucket=B))
    assert code == ("ServerSideEncryptionConfigurationNotFoundError", 404), code

    r = s3.put_object(Bucket=B, Key="small", Body=b"secret bytes", ServerSideEncryption="AES256")
    assert r.get("ServerSideEncryption") == "AES256", r
    assert s3.head_object(Bucket=B, Key="small").get("ServerSideEncryption") == "AES256"
    assert s3.get_object(Bucket=B, Key="small")["Body"].read() == b"secret bytes"

    data = os.urandom(3 * 1024 * 1024 + 12345)
    s3.put_object(Bucket=B, Key="big", Body=data, ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=B, Key="big")["Body"].read() == data
    for rng, want in [("bytes=0-99", data[:100]), ("bytes=1048570-1048700", data[1048570:1048701]),
                      ("bytes=-10", data[-10:])]:
        g = s3.get_object(Bucket=B, Key="big", Range=rng)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206, (rng, g["ResponseMetadata"])
        assert g["Body"].read() == want, rng

    sse_default(B)
    s3.put_object(Bucket=B, Key="by-default", Body=b"encrypted by default")
    assert s3.head_object(Bucket=B, Key="by-default").get("ServerSideEncryption") == "AES256"
    assert s3.get_object(Bucket=B, Key="by-default")["Body"].read() == b"encrypted by default"
    rules = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [x["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for x in rules] == ["AES256"], rules

    code = error_code(lambda: s3.put_object(Bucket=B, Key="kms", Body=b"x", ServerSideEncryption="aws:kms"))
    assert code[1] == 400 and code[0] in SSE_KMS_CODES, code
    assert error_code(lambda: s3.head_object(Bucket=B, Key="kms"))[1] == 404

    s3.delete_bucket_encryption(Bucket=B)
    code = error_code(lambda: s3.get_bucket_encryption(Bucket=B))
    assert code == ("ServerSideEncryptionConfigurationNotFoundError", 404), code


@check("SSE-S3 bucket default: a multipart upload (5 MiB + 1 KiB) reads back intact, encrypted")
def _():
    B, K = "feat-sse-multipart", "parts.bin"
    create(B)
    sse_default(B)
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1024)]
    u = s3.create_multipart_upload(Bucket=B, Key=K)["UploadId"]
    done = []
    for n, p in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=B, Key=K, UploadId=u, PartNumber=n, Body=p)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    r = s3.complete_multipart_upload(Bucket=B, Key=K, UploadId=u, MultipartUpload={"Parts": done})
    assert r["ETag"].endswith('-2"'), r["ETag"]
    h = s3.head_object(Bucket=B, Key=K)
    assert h.get("ServerSideEncryption") == "AES256", h
    assert h["ContentLength"] == sum(map(len, parts)), h
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == b"".join(parts)


# ---------------------------------------------------------------- virtual-host style

@check("virtual-host style (<bucket>.localhost): create, put, get, list, delete; path style sees the same")
def _():
    port = urllib.parse.urlsplit(ENDPOINT).port
    vhost = client(AK, SK, endpoint=f"http://localhost:{port}", style="virtual")
    urls = []
    vhost.meta.events.register("before-send.s3", lambda request, **_kw: urls.append(request.url))
    B, K = "feat-vhost", "hello.txt"
    vhost.create_bucket(Bucket=B, CreateBucketConfiguration={"LocationConstraint": REGION})
    vhost.put_object(Bucket=B, Key=K, Body=b"virtual host")
    assert vhost.get_object(Bucket=B, Key=K)["Body"].read() == b"virtual host"
    assert [o["Key"] for o in vhost.list_objects_v2(Bucket=B)["Contents"]] == [K]
    assert all(urllib.parse.urlsplit(u).netloc == f"{B}.localhost:{port}" for u in urls), urls
    assert s3.get_object(Bucket=B, Key=K)["Body"].read() == b"virtual host"
    s3.put_object(Bucket=B, Key="from-path-style", Body=b"path")
    assert vhost.get_object(Bucket=B, Key="from-path-style")["Body"].read() == b"path"
    vhost.delete_object(Bucket=B, Key=K)
    vhost.delete_object(Bucket=B, Key="from-path-style")
    assert error_code(lambda: s3.head_object(Bucket=B, Key=K))[1] == 404
    vhost.delete_bucket(Bucket=B)
    assert error_code(lambda: s3.head_bucket(Bucket=B))[1] == 404


# ---------------------------------------------------------------- clean-up

@check("every feature bucket is emptied (all versions and delete markers) and deleted")
def _():
    for name in [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("feat-")]:
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        r = s3.list_object_versions(Bucket=name)
        assert not r.get("Versions") and not r.get("DeleteMarkers"), (name, r)
        s3.delete_bucket(Bucket=name)
        assert error_code(lambda: s3.head_bucket(Bucket=name))[1] == 404, name


summary("s3-features")
