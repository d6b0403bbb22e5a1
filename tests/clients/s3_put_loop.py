"""Helper of the object-storage crash test: PUTs in a loop until the region dies, then checks
what survived a `kill -9`.

Usage:
  s3_put_loop.py loop JOURNAL   4 threads PUT objects of 0-2 MiB (some encrypted, some
                                overwriting a per-thread key) and append to JOURNAL, flushed:
                                ``intent KEY MD5`` before each PUT and ``ack KEY MD5 ETAG``
                                once it was answered 200. Exits when the region stops answering.
  s3_put_loop.py check JOURNAL  after the restart: every acknowledged PUT reads back
                                byte-identical with the same ETag (an overwritten key holds
                                its last acknowledged body, or the body of a PUT in flight at
                                the crash); an unacknowledged PUT left nothing or a complete
                                object; every listed object is readable and matches its ETag.

Environment as tests/clients/s3_check.py (NIMBUS_S3_ENDPOINT, NIMBUS_ACCESS_KEY,
NIMBUS_SECRET_KEY, NIMBUS_REGION). Prints ``ok: ...`` or ``FAIL: ...``; exits 1 on failure.
"""

import hashlib
import os
import random
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

s3 = boto3.client(
    "s3", endpoint_url=os.environ["NIMBUS_S3_ENDPOINT"], aws_access_key_id=os.environ["NIMBUS_ACCESS_KEY"],
    aws_secret_access_key=os.environ["NIMBUS_SECRET_KEY"], region_name=os.environ["NIMBUS_REGION"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, read_timeout=60,
                  connect_timeout=5, max_pool_connections=8),
)
B = "crash-loop"
mode, journal_path = sys.argv[1], sys.argv[2]


def loop():
    s3.create_bucket(Bucket=B)
    journal = open(journal_path, "a", buffering=1)
    lock = threading.Lock()

    def write(line):
        with lock:
            journal.write(line + "\n")
            journal.flush()
            os.fsync(journal.fileno())

    def worker(t):
        rnd = random.Random(t)
        i = 0
        while True:
            i += 1
            # Every third PUT overwrites the thread's own key.
            key = f"t{t}/latest" if i % 3 == 0 else f"t{t}/obj-{i:05d}"
            body = rnd.randbytes(rnd.choice([0, 1, 1000, 70_000, 300_000, 2 << 20]))
            md5 = hashlib.md5(body).hexdigest()
            extra = {"ServerSideEncryption": "AES256"} if i % 4 == 0 else {}
            write(f"intent {key} {md5}")
            try:
                r = s3.put_object(Bucket=B, Key=key, Body=body, **extra)
            except (BotoCoreError, ClientError, OSError) as e:
                print(f"thread {t} stopped: {type(e).__name__}", flush=True)
                return
            write(f"ack {key} {md5} {r['ETag'].strip(chr(34))}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def check():
    acked, intents = {}, {}
    order = []
    for line in open(journal_path):
        parts = line.split()
        if len(parts) < 3:
            continue  # a line cut by the kill
        if parts[0] == "intent":
            intents.setdefault(parts[1], []).append(parts[2])
        elif parts[0] == "ack" and len(parts) == 4:
            acked[parts[1]] = (parts[2], parts[3])
            order.append(parts[1])
    failed = 0
    for key, (md5, etag) in acked.items():
        try:
            r = s3.get_object(Bucket=B, Key=key)
            body = r["Body"].read()
        except ClientError as e:
            print(f"FAIL: acknowledged {key} is gone: {e.response['Error']['Code']}")
            failed += 1
            continue
        got = hashlib.md5(body).hexdigest()
        allowed = {md5}
        # An overwritten key may hold a later PUT that was in flight (committed, unanswered).
        if key.endswith("/latest"):
            seen = intents.get(key, [])
            if md5 in seen:
                last = len(seen) - 1 - seen[::-1].index(md5)
                allowed.update(seen[last + 1:])
        if got not in allowed:
            print(f"FAIL: {key} holds other bytes than acknowledged ({got} not in {allowed})")
            failed += 1
        elif got == md5 and r["ETag"].strip('"') != etag:
            print(f"FAIL: {key} has ETag {r['ETag']} instead of the acknowledged {etag}")
            failed += 1
    listed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B):
        for o in page.get("Contents", []):
            listed += 1
            body = s3.get_object(Bucket=B, Key=o["Key"])["Body"].read()
            if hashlib.md5(body).hexdigest() != o["ETag"].strip('"') or len(body) != o["Size"]:
                print(f"FAIL: listed {o['Key']} does not read back as listed")
                failed += 1
            elif o["Key"] not in acked and hashlib.md5(body).hexdigest() not in intents.get(o["Key"], []):
                print(f"FAIL: {o['Key']} holds bytes no PUT sent")
                failed += 1
    if len(acked) < 20:
        print(f"FAIL: only {len(acked)} PUTs were acknowledged before the crash")
        failed += 1
    if failed:
        sys.exit(1)
    print(f"ok: {len(acked)} acknowledged PUTs read back identical; {listed} listed objects readable")


loop() if mode == "loop" else check()
