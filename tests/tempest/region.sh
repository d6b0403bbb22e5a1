#!/usr/bin/env bash
# Starts a throw-away region (temporary data dir, ephemeral port, embedded SQLite), runs the
# Tempest tests of the committed expected-pass lists (identity-, image-, network- and, when
# the default image is built (NIMBUS_TINY_DIR), compute- and volume-expected.txt) against it
# with run.sh, and stops it.
# TEMPEST_LIST overrides the lists (e.g. tests/tempest/compute-candidates.txt).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
cargo build -q --bin nimbus
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-tempest-region.XXXXXX")
pw="tempest-admin-$RANDOM$RANDOM"
NIMBUS_DEFAULT_IMAGE_DIR=${NIMBUS_TINY_DIR:-} NIMBUS_ADMIN_PASSWORD=$pw \
  target/debug/nimbus up --data-dir "$tmp/data" --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 \
  >"$tmp/nimbus.out" 2>"$tmp/nimbus.log" &
pid=$!
# Guests outlive nimbus by design: stop any the tests left, then the region.
cleanup() {
  for f in "$tmp"/data/instances/*/qemu.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  # So do the virtual networks' DHCP servers and namespaces.
  for f in "$tmp"/data/net/*/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for d in "$tmp"/data/net/nbn-* "$tmp"/data/net/nbr-*; do [ -d "$d" ] && ip netns del "$(basename "$d")" 2>/dev/null; done
  kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"
}
trap cleanup EXIT
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
[ -f tests/tempest/network-expected.txt ] && cat tests/tempest/network-expected.txt >> "$tmp/expected.txt"
image_ref="" image_ref_alt=""
venv=${VENV:-$repo/.venv}
# The region's external network (floating IPs and router gateways come from it).
public_net=$(. "$tmp/data/admin-openrc.sh" && "$venv/bin/openstack" network show admin_external_net -f value -c id)
if [ -n "${NIMBUS_TINY_DIR:-}" ]; then
  # Compute tests need two bootable images: the default one and a copy.
  (
    . "$tmp/data/admin-openrc.sh"
    "$venv/bin/openstack" image create --public --disk-format qcow2 --container-format bare \
      --file "$NIMBUS_TINY_DIR/nimbus-tiny.qcow2" nimbus-tiny-alt -f value -c id >"$tmp/alt.id"
    "$venv/bin/openstack" image show nimbus-tiny -f value -c id >"$tmp/ref.id"
    "$venv/bin/openstack" volume type create --public --property multiattach="<is> True" shareable >/dev/null
  )
  image_ref=$(cat "$tmp/ref.id") image_ref_alt=$(cat "$tmp/alt.id")
  [ -f tests/tempest/compute-expected.txt ] && cat tests/tempest/compute-expected.txt >> "$tmp/expected.txt"
  # Block storage runs with compute (attach tests need guests; run.sh turns cinder on with it).
  [ -f tests/tempest/volume-expected.txt ] && cat tests/tempest/volume-expected.txt >> "$tmp/expected.txt"
fi
NIMBUS_PUBLIC_NETWORK_ID=$public_net NIMBUS_MULTIATTACH_TYPE=${image_ref:+shareable} NIMBUS_URL=$url NIMBUS_ADMIN_PASSWORD=$pw NIMBUS_REGION=eu-west-0 TEMPEST_LIST="${TEMPEST_LIST:-$tmp/expected.txt}" \
  NIMBUS_IMAGE_REF=$image_ref NIMBUS_IMAGE_REF_ALT=$image_ref_alt bash tests/tempest/run.sh || rc=$?
if [ $rc -ne 0 ]; then
  echo "region.sh: last lines of the region's log:" >&2
  tail -n 40 "$tmp/nimbus.log" >&2
fi
exit $rc
