#!/usr/bin/env bash
# Run Tempest's identity, image and compute API tests against a running Nimbus server.
#
#   NIMBUS_URL=http://127.0.0.1:8080 NIMBUS_ADMIN_PASSWORD=secret tests/tempest/run.sh
#   tests/tempest/run.sh --list-all     # print every tempest.api.identity test id
#
# Optional env: TEMPEST_LIST (include list; lines are regexes, '#' starts a
# comment; default tests/tempest/identity-expected.txt), VENV (default
# <repo>/.venv), TEMPEST_CONCURRENCY (default 2), NIMBUS_REGION (RegionOne),
# TEMPEST_KEEP=1 (keep the workspace; it is always kept when tests fail),
# NIMBUS_IMAGE_REF and NIMBUS_IMAGE_REF_ALT (two active image ids: enable compute).
# Exits non-zero if a listed test fails, a list line matches no test, or no
# test passed. Tempest's request log is <workspace>/logs/tempest.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$repo/.venv}
list=${TEMPEST_LIST:-tests/tempest/identity-expected.txt}
[[ $list = /* ]] || list=$repo/$list
tempest=$VENV/bin/tempest
py=$VENV/bin/python
[[ -x $tempest ]] || { echo "run.sh: no tempest at $tempest (set VENV)" >&2; exit 2; }

mode=run
case ${1:-} in
  --list-all) mode=list ;;
  "") [[ -n ${NIMBUS_URL:-} && -n ${NIMBUS_ADMIN_PASSWORD:-} ]] ||
        { echo "run.sh: set NIMBUS_URL and NIMBUS_ADMIN_PASSWORD" >&2; exit 2; } ;;
  *) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac

# Fresh workspace; HOME=$tmp keeps `tempest init` out of ~/.tempest.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-tempest.XXXXXX")
ws=$tmp/ws
keep=${TEMPEST_KEEP:-}
trap '[[ -n $keep ]] && echo "run.sh: workspace kept in $ws" >&2 || rm -rf "$tmp"' EXIT
HOME=$tmp "$tempest" init "$ws" >"$tmp/init.log" 2>&1 ||
  { cat "$tmp/init.log" >&2; exit 2; }

base=${NIMBUS_URL:-http://127.0.0.1:1}   # listing needs no server
compute_on=false
[[ -n ${NIMBUS_IMAGE_REF:-} ]] && compute_on=true
base=${base%/}
pw=${NIMBUS_ADMIN_PASSWORD:-unused}
pw=${pw//\$/\$\$}                        # oslo.config treats '$' as a variable

# Identity-only config. Per test class, Tempest's dynamic credentials log in
# as admin and create a project + user with role 'member' (and another with
# 'admin'); classes asking for 'system_reader' also create a user with
# 'reader' on the system and get it a system-scoped token. All are deleted
# after the class.
cat >"$ws/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $ws/logs
log_file = tempest.log
debug = true

[oslo_concurrency]
lock_path = $ws/tempest_lock

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $pw
admin_project_name = admin
admin_domain_name = Default
admin_user_domain_name = Default
admin_project_domain_name = Default
default_credentials_domain_name = Default
create_isolated_networks = false
tempest_roles =

[identity]
auth_version = v3
uri_v3 = $base/identity/v3
region = ${NIMBUS_REGION:-RegionOne}
v3_endpoint_type = public
admin_role = admin
default_domain_id = default
# Project-scoped admin tokens; no system-scoped reader clients.
admin_domain_scope = false
use_system_token = false
# Lockout and password history are not implemented: zero skips those checks.
user_lockout_failure_attempts = 0
user_lockout_duration = 0
user_unique_last_password_count = 0
user_minimum_password_age = 0

[identity-feature-enabled]
api_v2 = false
api_v2_admin = false
api_v3 = true
trust = false
access_rules = false
# Empty = no extensions (skips OS-INHERIT and OS-EC2 tests).
api_extensions =
domain_specific_drivers = false
immutable_user_source = false
# Gates the self-service password change tests (see [identity] above).
security_compliance = true

[service_available]
cinder = ${compute_on}
glance = true
horizon = false
# Networking (Neutron v2.0: networks, subnets, ports, security groups, routers, floating
# IPs) is served; no test project gets an isolated network (create_isolated_networks = false).
neutron = true
nova = ${compute_on}
swift = false

[volume]
catalog_type = block-storage
min_microversion = 3.0
max_microversion = 3.71
build_timeout = 300
build_interval = 1
volume_size = 10
volume_size_extend = 1
backup_driver = posix
disk_format = raw,qcow2
storage_protocol = local
vendor_name = Open Source
# A shareable type (region.sh makes it): Nova's multi-attach tests attach its volumes to two
# servers.
volume_type_multiattach = ${NIMBUS_MULTIATTACH_TYPE:-}

[volume-feature-enabled]
backup = true
snapshot = true
clone = true
multi_backend = false
manage_snapshot = false
manage_volume = false
replication = false
api_extensions = all
extend_attached_volume = true
# LUKS (v1) volumes: QEMU's luks driver opens them, and they grow while attached. LUKS2
# ("luks2") is refused at volume create: QEMU 7.2 reads only LUKS1 headers.
extend_attached_encrypted_volume = true
extend_volume_with_snapshot = true
enable_volume_image_dep_tests = true

[compute]
image_ref = ${NIMBUS_IMAGE_REF:-}
image_ref_alt = ${NIMBUS_IMAGE_REF_ALT:-}
# /dev/vda is the boot disk and /dev/vdb the config drive: volumes start at vdc.
volume_device_name = vdc
flavor_ref = s3.small.1
flavor_ref_alt = s3.medium.2
min_microversion = 2.1
max_microversion = 2.96
build_timeout = 300
build_interval = 1

[compute-feature-enabled]
console_output = true
resize = true
snapshot = true
disk_config = true
config_drive = true
enable_instance_password = true
change_password = false
pause = false
suspend = false
shelve = false
rescue = false
interface_attach = false
personality = false
cold_migration = false
live_migration = false
vnc_console = false
spice_console = false
serial_console = false
metadata_service = false
attach_encrypted_volume = false
volume_multiattach = true

[image]
# Glance v2 only; images are created by upload (no interoperable import, no web download).
image_path =
http_image =
# Tempest uploads random bytes as these formats; Nimbus checks uploaded data with qemu-img,
# so only formats that are opaque data are listed (random bytes are not a valid qcow2).
disk_formats = raw,ami,ari,aki,iso

[image-feature-enabled]
api_v1 = false
api_v2 = true
import_image = false
os_glance_reserved = false
image_format_enforcement = false

[network]
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
# The region's external network (admin_external_net): router gateways and floating IPs.
public_network_id = ${NIMBUS_PUBLIC_NETWORK_ID:-}
floating_network_name = admin_external_net
shared_physical_network = false

[network-feature-enabled]
ipv6 = false
ipv6_subnet_attributes = false
floating_ips = true
api_extensions = security-group,standard-attr-description,net-mtu,external-net,allowed-address-pairs,router,ext-gw-mode,extraroute

[validation]
run_validation = false
EOF
export TEMPEST_CONFIG_DIR=$ws/etc TEMPEST_CONFIG=tempest.conf
cd "$ws"

if [[ $mode = list ]]; then
  "$tempest" run --list-tests --regex '^tempest\.api\.(identity|image|compute|volume|network)\.' | grep '^tempest\.'
  exit
fi

[[ -f $list ]] || { echo "run.sh: no include list $list" >&2; exit 2; }
# Every list line is a regex searched in the full test id: each must match
# (and a list with no lines would make tempest run every test it has).
"$tempest" run --list-tests --regex '^tempest\.api\.(identity|image|compute|volume|network)\.' | grep '^tempest\.' >"$tmp/all.txt" ||
  { echo "run.sh: tempest could not list tests" >&2; exit 2; }
"$py" - "$list" "$tmp/all.txt" <<'EOF' || exit 1
import re, sys
ids = open(sys.argv[2]).read().split()
rxs = [l for l in (x.split('#')[0].strip() for x in open(sys.argv[1])) if l]
for l in rxs:
    if not any(re.search(l, i) for i in ids):
        sys.exit('run.sh: list line matches no test: ' + l)
if not rxs:
    sys.exit('run.sh: include list names no tests')
EOF

"$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' \
  "$base/identity/v3" 2>/dev/null ||
  { echo "run.sh: $base/identity/v3 is not answering" >&2; exit 1; }

rc=0
"$tempest" run --include-list "$list" --concurrency "${TEMPEST_CONCURRENCY:-2}" || rc=$?

# Count results from the subunit stream (setUpClass errors count as failures).
"$VENV/bin/stestr" last --subunit >"$tmp/last.subunit" 2>/dev/null || true
"$py" - "$tmp/last.subunit" >"$tmp/summary" <<'EOF'
import sys, subunit, testtools
s = testtools.StreamSummary()
s.startTestRun()
subunit.ByteStreamToStreamResult(open(sys.argv[1], 'rb')).run(s)
s.stopTestRun()
bad, skip = len(s.failures) + len(s.errors), len(s.skipped)
print(s.testsRun - bad - skip, bad, skip)
EOF
read -r passed failed skipped <"$tmp/summary"
echo "tempest: $passed passed, $failed failed, $skipped skipped"
if (( rc != 0 || failed > 0 || passed == 0 )); then keep=1; exit 1; fi
