"""What the check scripts of tests/clients share: each check runs on its own (a failure is
reported with its traceback and the next check goes on), and the closing summary line the
Rust integration tests look for (``NAME: N passed, M failed``; exit status 1 on failure).

    from checklib import check, summary, s3_error
    @check("what it shows")
    def _(): ...
    summary("s3")
"""

import sys
import traceback

_counts = {"passed": 0, "failed": 0}


def check(name):
    """Runs the decorated function now and reports it as one check."""
    def run(f):
        try:
            f()
            _counts["passed"] += 1
            print(f"ok: {name}", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            _counts["failed"] += 1
            print(f"FAIL: {name}\n{traceback.format_exc()}", flush=True)
        return f
    return run


def s3_error(f):
    """The (code, HTTP status) of a botocore call expected to fail."""
    from botocore.exceptions import ClientError
    try:
        f()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


def summary(name):
    """Prints the summary line and exits (1 if any check failed)."""
    print(f"{name}: {_counts['passed']} passed, {_counts['failed']} failed", flush=True)
    sys.exit(1 if _counts["failed"] else 0)
