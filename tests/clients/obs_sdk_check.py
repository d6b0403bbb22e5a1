"""Checks Nimbus's S3 listener with Huawei's unmodified OBS Python SDK (``esdk-obs-python``).

Run by a Rust integration test as ``.venv/bin/python tests/clients/obs_sdk_check.py``.

Environment (all required):
  NIMBUS_S3_ENDPOINT     http://127.0.0.1:PORT (the S3 listener)
  NIMBUS_ACCESS_KEY      an access key of a member of project A (the admin's)
  NIMBUS_SECRET_KEY      its secret
  NIMBUS_OTHER_ACCESS_KEY / NIMBUS_OTHER_SECRET_KEY   a key of a member of another project
  NIMBUS_REGION          the region name (eu-west-0)
The server runs with ``cold_restore_delay_secs = 1``.

Two ways the SDK is pointed at the listener, both with default ``ObsClient`` arguments:
  * ``server=http://localhost:PORT`` (the main client): signature negotiation on, virtual-host
    style (``Host: <bucket>.localhost:PORT``). Before the first call on a bucket (and before
    createBucket/listBuckets) the SDK sends an anonymous ``HEAD /?apiversion``; an answer
    without ``x-obs-api`` makes it sign with AWS V2 and speak ``x-amz-*`` headers.
    ``<bucket>.localhost`` resolves to 127.0.0.1 (RFC 6761); glibc here does not do that, so
    this script resolves ``*.localhost`` itself (a getaddrinfo shim, like an /etc/hosts entry).
  * ``server=NIMBUS_S3_ENDPOINT`` (an IP): the SDK itself turns on path style for an IPv4
    endpoint, which switches negotiation off and signs with AWS V2 directly, no probe.

The SDK returns a result (``status``, ``errorCode``, ``errorMessage``, ``body``) instead of
raising; HEAD errors carry no body, so their ``errorCode`` is None. In V2 mode the SDK reports
storage classes under their S3 names (WARM is ``STANDARD_IA``, COLD is ``GLACIER``), so the
checks compare OBS names through ``obs_class``.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``obs-sdk: N passed, M failed``; exits 1 if
anything failed.
"""

from checklib import check, summary
import hashlib
import os
import socket
import time
import uuid
from urllib.parse import urlsplit

_getaddrinfo = socket.getaddrinfo


def _resolve_localhost_subdomains(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _resolve_localhost_subdomains

from obs import (  # noqa: E402 - after the resolver shim
    CompletePart,
    CompleteMultipartUploadRequest,
    CreateBucketHeader,
    DeleteObjectsRequest,
    GetObjectHeader,
    Object,
    ObsClient,
    PutObjectHeader,
)

ENDPOINT = os.environ["NIMBUS_S3_ENDPOINT"].rstrip("/")
REGION = os.environ["NIMBUS_REGION"]
PORT = urlsplit(ENDPOINT).port
HOST_ENDPOINT = f"http://localhost:{PORT}"
AK, SK = os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"]


def client(ak, sk, server=HOST_ENDPOINT):
    return ObsClient(access_key_id=ak, secret_access_key=sk, server=server)


obs = client(AK, SK)
other = client(os.environ["NIMBUS_OTHER_ACCESS_KEY"], os.environ["NIMBUS_OTHER_SECRET_KEY"])


def ok(r, status=None):
    """Asserts a successful result (or exactly `status`) and returns it."""
    good = r.status == status if status else r.status < 300
    assert good, f"status {r.status} {r.errorCode}: {r.errorMessage}"
    return r


def refused(r):
    """(status, errorCode) of a result that must be an error."""
    assert r.status >= 300, f"the call succeeded ({r.status})"
    return r.status, r.errorCode


def obs_class(sdk_class):
    """The OBS name of a storage class the SDK reports (S3 names in V2 mode)."""
    return {None: "STANDARD", "STANDARD_IA": "WARM", "GLACIER": "COLD"}.get(sdk_class, sdk_class)


def get_bytes(c, bucket, key, range_=None):
    headers = GetObjectHeader(range=range_) if range_ else None
    r = c.getObject(bucket, key, headers=headers, loadStreamInMemory=True)
    return r, (r.body.buffer or b"") if r.status < 300 else None


def md5(b):
    return hashlib.md5(b).hexdigest()


SUFFIX = uuid.uuid4().hex[:10]
B = f"obs-sdk-check-{SUFFIX}"
Q = f"obs-sdk-check-quota-{SUFFIX}"
D = f"obs-sdk-check-class-{SUFFIX}"
P = f"obs-sdk-check-path-{SUFFIX}"
BODY = bytes(range(256)) * 40


@check("signature negotiation: create bucket with location = region, head, location, list")
def _():
    ok(obs.createBucket(B, location=REGION))
    ok(obs.headBucket(B), 200)
    negotiated = obs.cache.get(B)  # the SDK's per-bucket memory of the probe's answer
    assert negotiated and negotiated["signature"] == "v2", f"the probe chose {negotiated}"
    assert ok(obs.getBucketMetadata(B)).body.location == REGION, "x-amz-bucket-region on HEAD bucket"
    # The SDK's V2 parser looks for a <LocationConstraint> child of the root, so the
    # standard S3 answer parses as location None: only the status is checked here.
    ok(obs.getBucketLocation(B))
    names = [b.name for b in ok(obs.listBuckets()).body.buckets]
    assert B in names, names
    assert refused(obs.createBucket(B, location=REGION)) == (409, "BucketAlreadyOwnedByYou")


@check("putContent with metadata, content type and class WARM; getObject whole and ranged")
def _():
    r = ok(obs.putContent(B, "docs/a.txt", BODY, metadata={"color": "blue"},
                          headers=PutObjectHeader(contentType="text/plain", storageClass="WARM")))
    assert r.body.etag == f'"{md5(BODY)}"', r.body.etag
    r, data = get_bytes(obs, B, "docs/a.txt")
    assert data == BODY, len(data or b"")
    assert r.body.contentType == "text/plain" and ("color", "blue") in r.header, r.header
    assert r.body.etag == f'"{md5(BODY)}"'
    r, data = get_bytes(obs, B, "docs/a.txt", "2-5")
    assert r.status == 206 and data == BODY[2:6], (r.status, data)
    assert ("content-range", f"bytes 2-5/{len(BODY)}") in r.header, r.header
    r, data = get_bytes(obs, B, "docs/a.txt", f"{len(BODY) - 100}-")
    assert data == BODY[-100:]


@check("getObjectMetadata: length, type, ETag, metadata; the WARM class is reported back")
def _():
    r = ok(obs.getObjectMetadata(B, "docs/a.txt"))
    assert r.body.contentLength == len(BODY) and r.body.contentType == "text/plain", r.body
    assert r.body.etag == f'"{md5(BODY)}"' and ("color", "blue") in r.header, r.header
    assert obs_class(r.body.storageClass) == "WARM", r.body.storageClass
    r, _ = get_bytes(obs, B, "docs/a.txt")
    assert obs_class(r.body.storageClass) == "WARM", r.body.storageClass
    r = ok(obs.listObjects(B, prefix="docs/"))
    assert [(o.key, obs_class(o.storageClass)) for o in r.body.contents] == [("docs/a.txt", "WARM")], r.body


@check("putFile; listObjects with a prefix")
def _():
    path = f"/tmp/obs-sdk-check-{SUFFIX}.bin"
    with open(path, "wb") as f:
        f.write(b"file body")
    try:
        ok(obs.putFile(B, "docs/sub/file.bin", path, metadata={"origin": "file"}))
    finally:
        os.remove(path)
    ok(obs.putContent(B, "top.txt", b"top"))
    r = ok(obs.listObjects(B, prefix="docs/"))
    assert [o.key for o in r.body.contents] == ["docs/a.txt", "docs/sub/file.bin"], r.body.contents
    assert [o.size for o in r.body.contents] == [len(BODY), 9]
    r = ok(obs.listObjects(B))
    assert [o.key for o in r.body.contents] == ["docs/a.txt", "docs/sub/file.bin", "top.txt"]
    assert ok(obs.listObjects(B, prefix="nothing/")).body.contents == []


@check("copyObject keeps the bytes and metadata; getObject of a missing key is NoSuchKey")
def _():
    r = ok(obs.copyObject(B, "docs/a.txt", B, "copy/a.txt"))
    assert r.body.etag == f'"{md5(BODY)}"', r.body
    r, data = get_bytes(obs, B, "copy/a.txt")
    assert data == BODY and ("color", "blue") in r.header, r.header
    assert refused(obs.getObject(B, "missing", loadStreamInMemory=True)) == (404, "NoSuchKey")
    assert refused(obs.getObjectMetadata(B, "missing"))[0] == 404


@check("multipart: initiate, 3 parts of 5 MiB+, complete; content and ETag intact")
def _():
    r = ok(obs.initiateMultipartUpload(B, "big.bin", metadata={"kind": "multipart"}))
    upload = r.body.uploadId
    assert upload and r.body.objectKey == "big.bin", r.body
    parts, done = [os.urandom(5 * 1024 * 1024 + n) for n in (0, 1, 2)], []
    for i, p in enumerate(parts, 1):
        e = ok(obs.uploadPart(B, "big.bin", i, upload, content=p)).body.etag
        assert e == f'"{md5(p)}"', e
        done.append(CompletePart(partNum=i, etag=e))
    r = ok(obs.completeMultipartUpload(B, "big.bin", upload, CompleteMultipartUploadRequest(parts=done)))
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert r.body.etag == f'"{want}"', r.body.etag
    r, data = get_bytes(obs, B, "big.bin")
    assert data == b"".join(parts) and ("kind", "multipart") in r.header
    assert ok(obs.getObjectMetadata(B, "big.bin")).body.contentLength == sum(map(len, parts))
    ok(obs.deleteObject(B, "big.bin"))


@check("COLD object: getObject refused (403 InvalidObjectState) until restoreObject completes")
def _():
    ok(obs.putContent(B, "cold.bin", b"frozen", headers=PutObjectHeader(storageClass="COLD")))
    assert obs_class(ok(obs.getObjectMetadata(B, "cold.bin")).body.storageClass) == "COLD"
    assert refused(obs.getObject(B, "cold.bin", loadStreamInMemory=True)) == (403, "InvalidObjectState")
    r = ok(obs.restoreObject(B, "cold.bin", 1, tier="Expedited"))
    assert r.status in (200, 202), r.status
    for _ in range(100):
        r, data = get_bytes(obs, B, "cold.bin")
        if r.status == 200:
            break
        assert (r.status, r.errorCode) == (403, "InvalidObjectState"), (r.status, r.errorCode)
        time.sleep(0.2)
    assert data == b"frozen", (r.status, r.errorCode)
    assert "expiry-date" in (ok(obs.getObjectMetadata(B, "cold.bin")).body.restore or "")
    ok(obs.deleteObject(B, "cold.bin"))


@check("bucket quota: set/get, an upload over it refused (403 InsufficientStorageSpace), 0 = none")
def _():
    ok(obs.createBucket(Q, location=REGION))
    ok(obs.setBucketQuota(Q, 100000))
    assert ok(obs.getBucketQuota(Q)).body.quota == 100000
    ok(obs.putContent(Q, "one.bin", b"1" * 60000))
    assert refused(obs.putContent(Q, "two.bin", b"2" * 60000)) == (403, "InsufficientStorageSpace")
    assert refused(obs.getObjectMetadata(Q, "two.bin"))[0] == 404, "nothing stored"
    ok(obs.putContent(Q, "three.bin", b"3" * 40000))
    r = ok(obs.getBucketStorageInfo(Q)).body
    assert (r.size, r.objectNumber) == (100000, 2), r
    ok(obs.setBucketQuota(Q, 0))
    assert ok(obs.getBucketQuota(Q)).body.quota == 0
    ok(obs.putContent(Q, "two.bin", b"2" * 60000))
    r = ok(obs.getBucketStorageInfo(Q)).body
    assert (r.size, r.objectNumber) == (160000, 3), r
    ok(obs.deleteObjects(Q, DeleteObjectsRequest(objects=[Object(key=k) for k in ("one.bin", "two.bin", "three.bin")])))
    r = ok(obs.getBucketStorageInfo(Q)).body
    assert (r.size, r.objectNumber) == (0, 0), r
    ok(obs.deleteBucket(Q))


@check("getBucketStorageInfo: size and object count of the bucket")
def _():
    r = ok(obs.getBucketStorageInfo(B)).body
    sizes = [o.size for o in ok(obs.listObjects(B)).body.contents]
    assert (r.size, r.objectNumber) == (sum(sizes), len(sizes)), (r, sizes)
    assert r.objectNumber == 4, r


@check("bucket default storage class: createBucket header, get/setBucketStoragePolicy")
def _():
    ok(obs.createBucket(D, header=CreateBucketHeader(storageClass="WARM"), location=REGION))
    assert obs_class(ok(obs.getBucketStoragePolicy(D)).body.storageClass) == "WARM"
    ok(obs.putContent(D, "default.bin", b"x"))
    assert obs_class(ok(obs.getObjectMetadata(D, "default.bin")).body.storageClass) == "WARM"
    ok(obs.setBucketStoragePolicy(D, "STANDARD"))
    assert obs_class(ok(obs.getBucketStoragePolicy(D)).body.storageClass) == "STANDARD"
    ok(obs.putContent(D, "standard.bin", b"x"))
    assert obs_class(ok(obs.getObjectMetadata(D, "standard.bin")).body.storageClass) == "STANDARD"
    ok(obs.deleteObjects(D, DeleteObjectsRequest(objects=[Object(key="default.bin"), Object(key="standard.bin")])))
    ok(obs.deleteBucket(D))


@check("another project's key is refused on the bucket (403 AccessDenied) and does not see it")
def _():
    assert B not in [b.name for b in ok(other.listBuckets()).body.buckets]
    assert refused(other.headBucket(B))[0] == 403
    assert refused(other.getObjectMetadata(B, "top.txt"))[0] == 403
    for name, call in [("getObject", lambda: other.getObject(B, "top.txt", loadStreamInMemory=True)),
                       ("putContent", lambda: other.putContent(B, "intruder", b"x")),
                       ("listObjects", lambda: other.listObjects(B)),
                       ("deleteObject", lambda: other.deleteObject(B, "top.txt")),
                       ("getBucketQuota", lambda: other.getBucketQuota(B)),
                       ("setBucketQuota", lambda: other.setBucketQuota(B, 1)),
                       ("getBucketStorageInfo", lambda: other.getBucketStorageInfo(B)),
                       ("deleteBucket", lambda: other.deleteBucket(B))]:
        got = refused(call())
        assert got == (403, "AccessDenied"), (name, got)
    assert get_bytes(obs, B, "top.txt")[1] == b"top"
    wrong = client(AK, "wrong-secret")
    assert refused(wrong.listBuckets()) == (403, "SignatureDoesNotMatch")


@check("IP endpoint (path style, V2 without the probe): bucket and object round trip")
def _():
    ip = client(AK, SK, server=ENDPOINT)
    assert ip.path_style and not ip.is_signature_negotiation
    ok(ip.createBucket(P, location=REGION))
    ok(ip.headBucket(P))
    ok(ip.putContent(P, "k/v.txt", b"path style", metadata={"m": "1"}, headers=PutObjectHeader(storageClass="WARM")))
    r, data = get_bytes(ip, P, "k/v.txt")
    assert data == b"path style" and ("m", "1") in r.header
    assert obs_class(ok(ip.getObjectMetadata(P, "k/v.txt")).body.storageClass) == "WARM"
    assert [o.key for o in ok(ip.listObjects(P, prefix="k/")).body.contents] == ["k/v.txt"]
    r = ok(ip.getBucketStorageInfo(P)).body
    assert (r.size, r.objectNumber) == (10, 1), r
    assert refused(ip.deleteBucket(P)) == (409, "BucketNotEmpty")
    ok(ip.deleteObject(P, "k/v.txt"))
    ok(ip.deleteBucket(P))


@check("deleteObjects; deleteBucket refused while not empty (409 BucketNotEmpty), then works")
def _():
    assert refused(obs.deleteBucket(B)) == (409, "BucketNotEmpty")
    keys = [o.key for o in ok(obs.listObjects(B)).body.contents]
    r = ok(obs.deleteObjects(B, DeleteObjectsRequest(quiet=False, objects=[Object(key=k) for k in keys])))
    assert sorted(d.key for d in r.body.deleted) == sorted(keys) and not r.body.error, r.body
    assert ok(obs.listObjects(B)).body.contents == []
    ok(obs.deleteBucket(B))
    assert refused(obs.headBucket(B))[0] == 404
    assert refused(obs.listObjects(B)) == (404, "NoSuchBucket")


summary("obs-sdk")
