"""Checks Nimbus's S3 object storage with the unmodified boto3 SDK.

Run by a Rust integration test as ``.venv/bin/python tests/clients/s3_check.py``.

Environment (all required):
  NIMBUS_S3_ENDPOINT     http://127.0.0.1:PORT (the S3 listener)
  NIMBUS_ACCESS_KEY      an access key of a member of project A (the admin's)
  NIMBUS_SECRET_KEY      its secret
  NIMBUS_OTHER_ACCESS_KEY / NIMBUS_OTHER_SECRET_KEY   a key of a member of another project
  NIMBUS_REGION          the region name (eu-west-0)

The checks: buckets (create with the region's location constraint, wrong constraint,
head, list, location, delete only when empty), objects (put with metadata, content type,
storage class and Content-MD5, get, ranges, head, conditional requests, overwrite,
special-character keys, delete), listings V1 and V2 (prefix, delimiter, paging), presigned
GET, a wrong secret, and another project's member refused everywhere (AccessDenied).

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``s3: N passed, M failed``; exits 1 if
anything failed.
"""

import hashlib
import base64
import os
import sys
import traceback
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["NIMBUS_S3_ENDPOINT"]
REGION = os.environ["NIMBUS_REGION"]


def client(ak, sk):
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"),
    )


s3 = client(os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"])
other = client(os.environ["NIMBUS_OTHER_ACCESS_KEY"], os.environ["NIMBUS_OTHER_SECRET_KEY"])
passed, failed = 0, 0


def check(name):
    def run(f):
        global passed, failed
        try:
            f()
            passed += 1
            print(f"ok: {name}", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL: {name}\n{traceback.format_exc()}", flush=True)
        return f
    return run


def error_code(f):
    try:
        f()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


B = "nimbus-check-bucket"


@check("create bucket with the region's location constraint; head, list, location")
def _():
    s3.create_bucket(Bucket=B, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.head_bucket(Bucket=B)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert B in names, names
    assert s3.get_bucket_location(Bucket=B)["LocationConstraint"] == REGION
    assert error_code(lambda: s3.create_bucket(
        Bucket=B, CreateBucketConfiguration={"LocationConstraint": REGION})) == ("BucketAlreadyOwnedByYou", 409)


@check("a location constraint of another region is refused")
def _():
    code = error_code(lambda: s3.create_bucket(
        Bucket="nimbus-elsewhere", CreateBucketConfiguration={"LocationConstraint": "us-west-1"}))
    assert code == ("InvalidLocationConstraint", 400), code


BODY = b"0123456789" * 1000


@check("put with metadata, content type and Content-MD5; get returns the bytes, ETag = MD5")
def _():
    md5 = hashlib.md5(BODY)
    r = s3.put_object(Bucket=B, Key="docs/a.txt", Body=BODY, ContentType="text/plain", Metadata={"color": "blue"},
                      ContentMD5=base64.b64encode(md5.digest()).decode())
    assert r["ETag"] == f'"{md5.hexdigest()}"', r["ETag"]
    g = s3.get_object(Bucket=B, Key="docs/a.txt")
    assert g["Body"].read() == BODY
    assert g["ContentType"] == "text/plain" and g["Metadata"] == {"color": "blue"}, g
    assert g["ETag"] == f'"{md5.hexdigest()}"'


@check("a Content-MD5 that does not match is refused (BadDigest) and stores nothing")
def _():
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error_code(lambda: s3.put_object(Bucket=B, Key="bad", Body=b"data", ContentMD5=wrong))[0] == "BadDigest"
    assert error_code(lambda: s3.head_object(Bucket=B, Key="bad"))[1] == 404


@check("ranges: bytes=2-5, suffix, open end; unsatisfiable -> 416")
def _():
    r = s3.get_object(Bucket=B, Key="docs/a.txt", Range="bytes=2-5")
    assert r["Body"].read() == BODY[2:6] and r["ContentRange"] == f"bytes 2-5/{len(BODY)}", r["ContentRange"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=B, Key="docs/a.txt", Range="bytes=-3")["Body"].read() == BODY[-3:]
    assert s3.get_object(Bucket=B, Key="docs/a.txt", Range="bytes=9990-")["Body"].read() == BODY[9990:]
    assert error_code(lambda: s3.get_object(Bucket=B, Key="docs/a.txt", Range="bytes=99999-"))[1] == 416


@check("head and conditional requests (If-Match, If-None-Match)")
def _():
    h = s3.head_object(Bucket=B, Key="docs/a.txt")
    assert h["ContentLength"] == len(BODY)
    etag = h["ETag"]
    assert s3.get_object(Bucket=B, Key="docs/a.txt", IfMatch=etag)["Body"].read() == BODY
    assert error_code(lambda: s3.get_object(Bucket=B, Key="docs/a.txt", IfMatch='"nope"'))[1] == 412
    assert error_code(lambda: s3.get_object(Bucket=B, Key="docs/a.txt", IfNoneMatch=etag))[1] == 304
    assert error_code(lambda: s3.head_object(Bucket=B, Key="missing"))[1] == 404
    assert error_code(lambda: s3.get_object(Bucket=B, Key="missing"))[0] == "NoSuchKey"


@check("overwrite replaces the object; storage class STANDARD_IA is kept")
def _():
    s3.put_object(Bucket=B, Key="docs/a.txt", Body=b"new", StorageClass="STANDARD_IA")
    g = s3.get_object(Bucket=B, Key="docs/a.txt")
    assert g["Body"].read() == b"new"
    assert s3.head_object(Bucket=B, Key="docs/a.txt")["StorageClass"] == "STANDARD_IA"
    assert error_code(lambda: s3.put_object(Bucket=B, Key="x", Body=b"1", StorageClass="REDUCED_REDUNDANCY"))[1] == 400


KEYS = ["docs/b.txt", "docs/sub/c.txt", "docs/sub/d.txt", "img/e.png", "top.txt", "sp ace+plus%pct/é.txt"]


@check("listing V2: prefix, delimiter, common prefixes, paging with continuation tokens")
def _():
    for k in KEYS:
        s3.put_object(Bucket=B, Key=k, Body=k.encode())
    all_keys = sorted(KEYS + ["docs/a.txt"], key=lambda k: k.encode())
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=B)["Contents"]]
    assert got == all_keys, got
    r = s3.list_objects_v2(Bucket=B, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["top.txt"], r.get("Contents")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["docs/", "img/", "sp ace+plus%pct/"], r["CommonPrefixes"]
    r = s3.list_objects_v2(Bucket=B, Prefix="docs/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["docs/a.txt", "docs/b.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["docs/sub/"]
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=B, MaxKeys=2, **kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == all_keys, seen
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=B, Delimiter="/", PaginationConfig={"PageSize": 1})
    entries = []
    for p in pages:
        entries += [o["Key"] for o in p.get("Contents", [])] + [c["Prefix"] for c in p.get("CommonPrefixes", [])]
    assert sorted(entries) == sorted(["top.txt", "docs/", "img/", "sp ace+plus%pct/"]), entries


@check("listing V1 with marker; special-character keys round-trip")
def _():
    r = s3.list_objects(Bucket=B, Marker="docs/sub/d.txt")
    assert [o["Key"] for o in r["Contents"]][0] == "img/e.png", r["Contents"]
    k = "sp ace+plus%pct/é.txt"
    assert s3.get_object(Bucket=B, Key=k)["Body"].read() == k.encode()


@check("a presigned GET works without credentials; a wrong secret is refused")
def _():
    url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "top.txt"}, ExpiresIn=300)
    assert urllib.request.urlopen(url).read() == b"top.txt"
    bad = client(os.environ["NIMBUS_ACCESS_KEY"], "wrong-secret")
    assert error_code(lambda: bad.list_buckets()) == ("SignatureDoesNotMatch", 403)


@check("another project's member is refused (AccessDenied) and does not see the bucket")
def _():
    assert B not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    for call in [lambda: other.head_bucket(Bucket=B), lambda: other.get_object(Bucket=B, Key="top.txt"),
                 lambda: other.put_object(Bucket=B, Key="intruder", Body=b"x"),
                 lambda: other.list_objects_v2(Bucket=B), lambda: other.delete_object(Bucket=B, Key="top.txt"),
                 lambda: other.delete_bucket(Bucket=B)]:
        code = error_code(call)
        assert code[1] == 403, code
    assert s3.get_object(Bucket=B, Key="top.txt")["Body"].read() == b"top.txt"


@check("a bucket is deleted only when empty")
def _():
    assert error_code(lambda: s3.delete_bucket(Bucket=B)) == ("BucketNotEmpty", 409)
    for o in s3.list_objects_v2(Bucket=B)["Contents"]:
        s3.delete_object(Bucket=B, Key=o["Key"])
    s3.delete_object(Bucket=B, Key="never-existed")
    s3.delete_bucket(Bucket=B)
    assert error_code(lambda: s3.head_bucket(Bucket=B))[1] == 404
    assert error_code(lambda: s3.list_objects_v2(Bucket=B))[0] == "NoSuchBucket"


print(f"s3: {passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
