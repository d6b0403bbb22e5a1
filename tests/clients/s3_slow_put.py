"""Helper of the object-storage crash test: one boto3 PUT whose body trickles in slowly, so
the test can `kill -9` the region while the object is half written. Then, with ``check``,
verifies the object never appeared and the bucket still takes writes.

Usage: s3_slow_put.py put|check   (env as tests/clients/s3_check.py: NIMBUS_S3_ENDPOINT,
NIMBUS_ACCESS_KEY, NIMBUS_SECRET_KEY, NIMBUS_REGION)
"""

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client(
    "s3", endpoint_url=os.environ["NIMBUS_S3_ENDPOINT"], aws_access_key_id=os.environ["NIMBUS_ACCESS_KEY"],
    aws_secret_access_key=os.environ["NIMBUS_SECRET_KEY"], region_name=os.environ["NIMBUS_REGION"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, read_timeout=120,
                  connect_timeout=5, request_checksum_calculation="when_required"),
)
B = "crash-bucket"


if sys.argv[1] == "put":
    import http.client
    import urllib.parse
    s3.create_bucket(Bucket=B)
    # A presigned PUT (UNSIGNED-PAYLOAD): the body can then trickle in, 256 KiB every 50 ms.
    url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": B, "Key": "half"},
                                                           ExpiresIn=600))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    total = 64 << 20
    conn.putrequest("PUT", f"{url.path}?{url.query}")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    print("uploading", flush=True)
    try:
        sent = 0
        while sent < total:
            conn.send(b"z" * (256 << 10))
            sent += 256 << 10
            time.sleep(0.05)
        print(f"put finished (unexpected): {conn.getresponse().status}", flush=True)
    except Exception as e:  # noqa: BLE001 - the region is killed under us
        print(f"put interrupted: {type(e).__name__}", flush=True)
else:
    try:
        s3.head_object(Bucket=B, Key="half")
        print("FAIL: the interrupted object exists")
        sys.exit(1)
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
    s3.put_object(Bucket=B, Key="after", Body=b"fine")
    assert s3.get_object(Bucket=B, Key="after")["Body"].read() == b"fine"
    print("ok: no partial object; the bucket takes writes", flush=True)
