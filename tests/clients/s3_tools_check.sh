#!/usr/bin/env bash
# Checks Nimbus's S3 listener with the unmodified command-line clients: the AWS CLI
# (`aws s3`, `aws s3api`), s3cmd and rclone, each creating a bucket, uploading (single and
# multipart), listing, downloading, syncing and deleting. Run by a Rust integration test.
#
# Env: VENV (bin/aws, bin/s3cmd, bin/rclone), NIMBUS_S3_ENDPOINT (http://127.0.0.1:PORT),
# NIMBUS_ACCESS_KEY, NIMBUS_SECRET_KEY, NIMBUS_REGION. Prints ok/FAIL lines and
# "s3-tools: N passed, M failed"; exits 1 if anything failed.
set -uo pipefail
bin=$VENV/bin
ep=$NIMBUS_S3_ENDPOINT
hostport=${ep#http://}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=$NIMBUS_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$NIMBUS_SECRET_KEY AWS_DEFAULT_REGION=$NIMBUS_REGION
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-creds HOME=$work
passed=0 failed=0
check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAIL: $name"; echo "$out" | tail -n 15 | sed 's/^/    /'; fi
}
aws() { "$bin/aws" --endpoint-url "$ep" "$@"; }
s3cmd() {
  "$bin/s3cmd" --access_key="$NIMBUS_ACCESS_KEY" --secret_key="$NIMBUS_SECRET_KEY" --host="$hostport" \
    --host-bucket="$hostport" --no-ssl --region="$NIMBUS_REGION" --no-check-md5 -c /dev/null "$@"
}
export RCLONE_CONFIG_NIMBUS_TYPE=s3 RCLONE_CONFIG_NIMBUS_PROVIDER=Other RCLONE_CONFIG_NIMBUS_ENDPOINT=$ep \
  RCLONE_CONFIG_NIMBUS_ACCESS_KEY_ID=$NIMBUS_ACCESS_KEY RCLONE_CONFIG_NIMBUS_SECRET_ACCESS_KEY=$NIMBUS_SECRET_KEY \
  RCLONE_CONFIG_NIMBUS_REGION=$NIMBUS_REGION RCLONE_CONFIG_NIMBUS_FORCE_PATH_STYLE=true
rclone() { "$bin/rclone" --config /dev/null "$@"; }

mkdir -p "$work/tree/a/b"
echo "one" >"$work/tree/one.txt"; echo "two" >"$work/tree/a/two.txt"; echo "three" >"$work/tree/a/b/three.txt"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$work/big.bin"

# --- AWS CLI --------------------------------------------------------------------------
check "aws s3 mb" aws s3 mb s3://tools-aws
check "aws s3 cp (single put)" aws s3 cp "$work/tree/one.txt" s3://tools-aws/one.txt
check "aws s3 cp (multipart, 20 MiB)" aws s3 cp "$work/big.bin" s3://tools-aws/big.bin
check "aws s3 cp back, identical" bash -c "$(declare -f aws); bin=$bin ep=$ep; aws s3 cp s3://tools-aws/big.bin '$work/big.down' >/dev/null && cmp '$work/big.bin' '$work/big.down'"
check "aws s3 sync" aws s3 sync "$work/tree" s3://tools-aws/tree
check "aws s3 ls --recursive lists the tree" bash -c "$(declare -f aws); bin=$bin ep=$ep; aws s3 ls --recursive s3://tools-aws/tree/ | grep -c txt | grep -qx 3"
check "aws s3api head-object" bash -c "$(declare -f aws); bin=$bin ep=$ep; aws s3api head-object --bucket tools-aws --key one.txt | grep -q ContentLength"
check "aws s3api list-objects-v2 with delimiter" bash -c "$(declare -f aws); bin=$bin ep=$ep; aws s3api list-objects-v2 --bucket tools-aws --prefix tree/ --delimiter / | grep -q 'tree/a/'"
check "aws s3 rm --recursive and rb" bash -c "$(declare -f aws); bin=$bin ep=$ep; aws s3 rm --recursive s3://tools-aws >/dev/null && aws s3 rb s3://tools-aws"

# --- s3cmd ------------------------------------------------------------------------------
check "s3cmd mb" s3cmd mb s3://tools-s3cmd
check "s3cmd put" s3cmd put "$work/tree/one.txt" s3://tools-s3cmd/one.txt
check "s3cmd put (multipart, 20 MiB)" s3cmd put --multipart-chunk-size-mb=5 "$work/big.bin" s3://tools-s3cmd/big.bin
check "s3cmd ls" bash -c "$(declare -f s3cmd); bin=$bin hostport=$hostport; s3cmd ls s3://tools-s3cmd | grep -q one.txt"
check "s3cmd get, identical" bash -c "$(declare -f s3cmd); bin=$bin hostport=$hostport; s3cmd get s3://tools-s3cmd/big.bin '$work/big.s3cmd' >/dev/null && cmp '$work/big.bin' '$work/big.s3cmd'"
check "s3cmd with SigV2 signatures (put, get)" bash -c "$(declare -f s3cmd); bin=$bin hostport=$hostport; s3cmd --signature-v2 put '$work/tree/one.txt' s3://tools-s3cmd/v2.txt >/dev/null && s3cmd --signature-v2 get s3://tools-s3cmd/v2.txt '$work/v2.txt' >/dev/null && cmp '$work/tree/one.txt' '$work/v2.txt' && s3cmd --signature-v2 del s3://tools-s3cmd/v2.txt >/dev/null"
check "s3cmd del and rb" bash -c "$(declare -f s3cmd); bin=$bin hostport=$hostport; s3cmd del s3://tools-s3cmd/one.txt s3://tools-s3cmd/big.bin >/dev/null && s3cmd rb s3://tools-s3cmd"

# --- rclone -----------------------------------------------------------------------------
check "rclone mkdir" rclone mkdir nimbus:tools-rclone
check "rclone copy (tree and multipart)" rclone copy --s3-upload-cutoff 5M --s3-chunk-size 5M "$work/tree" nimbus:tools-rclone/tree
check "rclone copy big" rclone copy --s3-upload-cutoff 5M --s3-chunk-size 5M "$work/big.bin" nimbus:tools-rclone
check "rclone check (hashes match)" rclone check "$work/tree" nimbus:tools-rclone/tree
check "rclone ls" bash -c "$(declare -f rclone); bin=$bin; rclone ls nimbus:tools-rclone | grep -c . | grep -qx 4"
check "rclone purge" rclone purge nimbus:tools-rclone

echo "s3-tools: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
