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

from checklib import check, s3_error, summary
import hashlib
import base64
import os
import urllib.request

import boto3
from botocore.config import Config

ENDPOINT = os.environ["NIMBUS_S3_ENDPOINT"]
REGION = os.environ["NIMBUS_REGION"]


def client(ak, sk):
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"),
    )


s3 = client(os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"])
other = client(os.environ["NIMBUS_OTHER_ACCESS_KEY"], os.environ["NIMBUS_OTHER_SECRET_KEY"])


error_code = s3_error


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
    # A PUT refused before its body was read must not spoil the connection for the next ones.
    for i in range(10):
        assert error_code(lambda: s3.put_object(Bucket=B, Key="x", Body=b"1" * 2000,
                                                StorageClass="REDUCED_REDUNDANCY"))[1] == 400
        s3.put_object(Bucket=B, Key="after-refusal", Body=b"ok")
    s3.delete_object(Bucket=B, Key="after-refusal")


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


@check("an unversioned bucket: no versioning status, every object listed once with version id null")
def _():
    assert "Status" not in s3.get_bucket_versioning(Bucket=B)
    r = s3.list_object_versions(Bucket=B, Prefix="docs/")
    assert [v["Key"] for v in r["Versions"]] == ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "docs/sub/d.txt"], r
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in r["Versions"]), r["Versions"]


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


@check("copy: same metadata (COPY), new metadata (REPLACE), class change in place")
def _():
    s3.put_object(Bucket=B, Key="src.txt", Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"})
    r = s3.copy_object(Bucket=B, Key="dst.txt", CopySource={"Bucket": B, "Key": "src.txt"})
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    g = s3.get_object(Bucket=B, Key="dst.txt")
    assert g["Body"].read() == b"copy me" and g["Metadata"] == {"a": "1"} and g["ContentType"] == "text/plain"
    s3.copy_object(Bucket=B, Key="dst2.txt", CopySource={"Bucket": B, "Key": "src.txt"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="application/x-test")
    h = s3.head_object(Bucket=B, Key="dst2.txt")
    assert h["Metadata"] == {"b": "2"} and h["ContentType"] == "application/x-test", h
    s3.copy_object(Bucket=B, Key="src.txt", CopySource={"Bucket": B, "Key": "src.txt"}, StorageClass="GLACIER")
    assert s3.head_object(Bucket=B, Key="src.txt")["StorageClass"] == "GLACIER"
    assert error_code(lambda: s3.copy_object(Bucket=B, Key="src.txt",
                                             CopySource={"Bucket": B, "Key": "src.txt"}))[1] == 400
    assert error_code(lambda: s3.copy_object(Bucket=B, Key="x", CopySource={"Bucket": B, "Key": "nope"}))[0] == "NoSuchKey"


@check("content headers are kept and served; response-* parameters override them; a copy keeps them")
def _():
    s3.put_object(Bucket=B, Key="report.csv", Body=b"a,b\n", ContentType="text/csv", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="r.csv"', ContentLanguage="fr",
                  Expires="Wed, 21 Oct 2099 07:28:00 GMT")
    h = s3.head_object(Bucket=B, Key="report.csv")
    assert (h["CacheControl"], h["ContentDisposition"], h["ContentLanguage"]) == \
        ("max-age=60", 'attachment; filename="r.csv"', "fr"), h
    assert h["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 21 Oct 2099 07:28:00 GMT", h
    g = s3.get_object(Bucket=B, Key="report.csv", ResponseContentType="application/octet-stream",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-cache")
    assert (g["ContentType"], g["ContentDisposition"], g["CacheControl"]) == \
        ("application/octet-stream", "inline", "no-cache"), g
    s3.copy_object(Bucket=B, Key="report2.csv", CopySource={"Bucket": B, "Key": "report.csv"})
    h2 = s3.head_object(Bucket=B, Key="report2.csv")
    assert (h2["CacheControl"], h2["ContentType"]) == ("max-age=60", "text/csv"), h2
    for k in ["report.csv", "report2.csv"]:
        s3.delete_object(Bucket=B, Key=k)
    code = error_code(lambda: s3.put_object(Bucket=B, Key="meta", Body=b"x", Metadata={"big": "v" * 2100}))
    assert code == ("MetadataTooLarge", 400), code
    assert error_code(lambda: s3.head_object(Bucket=B, Key="meta"))[1] == 404


@check("DeleteObjects removes several keys (verbose and quiet)")
def _():
    for k in ["m1", "m2", "m3"]:
        s3.put_object(Bucket=B, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "m1"}, {"Key": "m2"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["m1", "m2"], r
    r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "m3"}], "Quiet": True})
    assert not r.get("Deleted"), r
    assert error_code(lambda: s3.head_object(Bucket=B, Key="m3"))[1] == 404


@check("multipart: boto3's managed transfer (3 parts), ETag md5-of-md5s-3, content intact")
def _():
    import io
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(12 * 1024 * 1024)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=2)
    s3.upload_fileobj(io.BytesIO(data), B, "big.bin", Config=cfg)
    parts = [data[i:i + 5 * 1024 * 1024] for i in range(0, len(data), 5 * 1024 * 1024)]
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"
    h = s3.head_object(Bucket=B, Key="big.bin")
    assert h["ETag"] == f'"{want}"' and h["ContentLength"] == len(data), h
    out = io.BytesIO()
    s3.download_fileobj(B, "big.bin", out, Config=cfg)
    assert out.getvalue() == data
    s3.delete_object(Bucket=B, Key="big.bin")


@check("multipart rules: list parts and uploads, part order, minimum size, abort")
def _():
    u = s3.create_multipart_upload(Bucket=B, Key="mp")["UploadId"]
    assert [x["UploadId"] for x in s3.list_multipart_uploads(Bucket=B)["Uploads"]] == [u]
    e1 = s3.upload_part(Bucket=B, Key="mp", UploadId=u, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket=B, Key="mp", UploadId=u, PartNumber=2, Body=b"b" * 100)["ETag"]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=B, Key="mp", UploadId=u)["Parts"]] == [1, 2]
    order = {"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}
    code = error_code(lambda: s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=u, MultipartUpload=order))
    assert code[0] == "InvalidPartOrder", code
    small = {"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}
    code = error_code(lambda: s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=u, MultipartUpload=small))
    assert code[0] == "EntityTooSmall", code
    wrong = {"Parts": [{"PartNumber": 1, "ETag": '"0123"'}]}
    code = error_code(lambda: s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=u, MultipartUpload=wrong))
    assert code[0] == "InvalidPart", code
    one = {"Parts": [{"PartNumber": 1, "ETag": e1}]}
    r = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=u, MultipartUpload=one)
    assert r["ETag"].endswith('-1"'), r["ETag"]
    assert s3.get_object(Bucket=B, Key="mp")["Body"].read() == b"a" * 100
    u2 = s3.create_multipart_upload(Bucket=B, Key="mp2")["UploadId"]
    s3.upload_part(Bucket=B, Key="mp2", UploadId=u2, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=B, Key="mp2", UploadId=u2)
    assert error_code(lambda: s3.list_parts(Bucket=B, Key="mp2", UploadId=u2))[0] == "NoSuchUpload"
    assert not s3.list_multipart_uploads(Bucket=B).get("Uploads")
    s3.delete_object(Bucket=B, Key="mp")


@check("multipart of 3 parts (two copied from ranges of an object): a wrong ETag -> InvalidPart, then complete")
def _():
    src = os.urandom(11 * 1024 * 1024)
    s3.put_object(Bucket=B, Key="copy-src.bin", Body=src)
    u = s3.create_multipart_upload(Bucket=B, Key="mp3")["UploadId"]
    mib5 = 5 * 1024 * 1024
    p1 = s3.upload_part_copy(Bucket=B, Key="mp3", UploadId=u, PartNumber=1,
                             CopySource={"Bucket": B, "Key": "copy-src.bin"},
                             CopySourceRange=f"bytes=0-{mib5 - 1}")["CopyPartResult"]["ETag"]
    assert p1 == f'"{hashlib.md5(src[:mib5]).hexdigest()}"', p1
    p2 = s3.upload_part_copy(Bucket=B, Key="mp3", UploadId=u, PartNumber=2,
                             CopySource={"Bucket": B, "Key": "copy-src.bin"},
                             CopySourceRange=f"bytes={mib5}-{2 * mib5 - 1}")["CopyPartResult"]["ETag"]
    p3 = s3.upload_part(Bucket=B, Key="mp3", UploadId=u, PartNumber=3, Body=b"tail")["ETag"]
    code = error_code(lambda: s3.upload_part_copy(Bucket=B, Key="mp3", UploadId=u, PartNumber=4,
                                                  CopySource={"Bucket": B, "Key": "copy-src.bin"},
                                                  CopySourceRange="bytes=0-99999999"))
    assert code[1] == 400, code
    code = error_code(lambda: s3.upload_part_copy(Bucket=B, Key="mp3", UploadId=u, PartNumber=4,
                                                  CopySource={"Bucket": B, "Key": "copy-src.bin"},
                                                  CopySourceIfMatch='"0123"'))
    assert code == ("PreconditionFailed", 412), code
    wrong = {"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'},
                       {"PartNumber": 3, "ETag": p3}]}
    code = error_code(lambda: s3.complete_multipart_upload(Bucket=B, Key="mp3", UploadId=u, MultipartUpload=wrong))
    assert code == ("InvalidPart", 400), code
    right = {"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}, {"PartNumber": 3, "ETag": p3}]}
    r = s3.complete_multipart_upload(Bucket=B, Key="mp3", UploadId=u, MultipartUpload=right)
    assert r["ETag"].endswith('-3"'), r
    assert s3.get_object(Bucket=B, Key="mp3")["Body"].read() == src[:2 * mib5] + b"tail"
    # Copy conditions on CopyObject too.
    etag = s3.head_object(Bucket=B, Key="copy-src.bin")["ETag"]
    s3.copy_object(Bucket=B, Key="cond.bin", CopySource={"Bucket": B, "Key": "copy-src.bin"}, CopySourceIfMatch=etag)
    code = error_code(lambda: s3.copy_object(Bucket=B, Key="cond2.bin", CopySource={"Bucket": B, "Key": "copy-src.bin"},
                                             CopySourceIfNoneMatch=etag))
    assert code == ("PreconditionFailed", 412), code
    assert error_code(lambda: s3.head_object(Bucket=B, Key="cond2.bin"))[1] == 404
    for k in ["mp3", "copy-src.bin", "cond.bin"]:
        s3.delete_object(Bucket=B, Key=k)


@check("COLD objects: GET refused until restored (202, in-progress 409), then readable with x-amz-restore")
def _():
    import time
    s3.put_object(Bucket=B, Key="cold.bin", Body=b"frozen", StorageClass="GLACIER")
    assert s3.head_object(Bucket=B, Key="cold.bin")["StorageClass"] == "GLACIER"
    assert error_code(lambda: s3.get_object(Bucket=B, Key="cold.bin")) == ("InvalidObjectState", 403)
    assert error_code(lambda: s3.restore_object(Bucket=B, Key="docs/b.txt", RestoreRequest={"Days": 1}))[0] \
        == "InvalidObjectState"
    r = s3.restore_object(Bucket=B, Key="cold.bin", RestoreRequest={"Days": 2})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202, r["ResponseMetadata"]
    assert 'ongoing-request="true"' in s3.head_object(Bucket=B, Key="cold.bin").get("Restore", "")
    assert error_code(lambda: s3.restore_object(Bucket=B, Key="cold.bin", RestoreRequest={"Days": 2}))[0] \
        == "RestoreAlreadyInProgress"
    for _ in range(100):
        restore = s3.head_object(Bucket=B, Key="cold.bin").get("Restore", "")
        if 'ongoing-request="false"' in restore:
            break
        time.sleep(0.2)
    assert "expiry-date" in restore, restore
    assert s3.get_object(Bucket=B, Key="cold.bin")["Body"].read() == b"frozen"
    again = s3.restore_object(Bucket=B, Key="cold.bin", RestoreRequest={"Days": 3})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200, "a restored object's expiry is extended"
    s3.delete_object(Bucket=B, Key="cold.bin")


@check("an upload over the region's object size limit is refused (EntityTooLarge), nothing stored")
def _():
    limit = int(os.environ.get("NIMBUS_MAX_OBJECT_SIZE", "0"))
    if not limit:
        return
    code = error_code(lambda: s3.put_object(Bucket=B, Key="too-big", Body=b"\0" * (limit + 1)))
    assert code == ("EntityTooLarge", 400), code
    assert error_code(lambda: s3.head_object(Bucket=B, Key="too-big"))[1] == 404
    s3.put_object(Bucket=B, Key="small-after", Body=b"ok")
    s3.delete_object(Bucket=B, Key="small-after")


@check("a bucket is deleted only when empty")
def _():
    assert error_code(lambda: s3.delete_bucket(Bucket=B)) == ("BucketNotEmpty", 409)
    for o in s3.list_objects_v2(Bucket=B)["Contents"]:
        s3.delete_object(Bucket=B, Key=o["Key"])
    s3.delete_object(Bucket=B, Key="never-existed")
    s3.delete_bucket(Bucket=B)
    assert error_code(lambda: s3.head_bucket(Bucket=B))[1] == 404
    assert error_code(lambda: s3.list_objects_v2(Bucket=B))[0] == "NoSuchBucket"


summary("s3")
