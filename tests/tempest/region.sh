#!/usr/bin/env bash
# Starts a throw-away region (temporary data dir, ephemeral port, embedded SQLite), runs the
# Tempest tests of the committed expected-pass lists (identity-expected.txt, and
# image-expected.txt when present) against it with run.sh, and stops it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
cargo build -q --bin nimbus
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-tempest-region.XXXXXX")
pw="tempest-admin-$RANDOM$RANDOM"
NIMBUS_ADMIN_PASSWORD=$pw target/debug/nimbus up --data-dir "$tmp/data" --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 \
  >"$tmp/nimbus.out" 2>"$tmp/nimbus.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^listening: //p' "$tmp/nimbus.out")
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$tmp/nimbus.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "region.sh: nimbus did not start" >&2; exit 1; }
echo "region.sh: region at $url"
rc=0
cat tests/tempest/identity-expected.txt > "$tmp/expected.txt"
[ -f tests/tempest/image-expected.txt ] && cat tests/tempest/image-expected.txt >> "$tmp/expected.txt"
NIMBUS_URL=$url NIMBUS_ADMIN_PASSWORD=$pw NIMBUS_REGION=eu-west-0 TEMPEST_LIST="$tmp/expected.txt" \
  bash tests/tempest/run.sh || rc=$?
if [ $rc -ne 0 ]; then
  echo "region.sh: last lines of the region's log:" >&2
  tail -n 40 "$tmp/nimbus.log" >&2
fi
exit $rc
