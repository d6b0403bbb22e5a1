#!/usr/bin/env bash
# Boots the default image `nimbus-tiny` once under QEMU the way a cloud does (from the disk, no
# -kernel) and checks what its /init promises: the config drive is read (hostname, SSH key,
# network_data.json, user_data), the ready line appears on the serial console, SSH with the
# injected key works, and the guest powers off on an ACPI power-button press.
#
# Usage: scripts/boot-check.sh [IMAGE_DIR]     (default: target/nimbus-tiny)
# Builds the image there first (cached; see scripts/build-default-image.sh).
#
# Environment:
#   ACCEL=tcg          QEMU accelerator (this machine's KVM hangs guests; use kvm on real hardware)
#   MACHINE=q35        or pc
#   CPU                QEMU -cpu model (default: max under tcg, host under kvm, as the QEMU driver)
#   CONFIG_DRIVE=disk  config drive as a virtio disk; `cdrom`: a CD (virtio-scsi on q35, IDE on pc)
#   NET=static         network_data.json with a static address; `dhcp`: no network_data.json
#   SSH_CHECK=1        0 skips the SSH login check
#   TIMEOUT=120        seconds to wait for the ready line
#   KEEP_LOG=FILE      copy the serial console log there
#
# The guest sits on QEMU user-mode networking with restrict=on (it reaches nothing outside
# QEMU); the only forward is 127.0.0.1:PORT -> guest port 22 for the SSH check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_DIR="${1:-$ROOT/target/nimbus-tiny}"
ACCEL="${ACCEL:-tcg}"
MACHINE="${MACHINE:-q35}"
if [ "$ACCEL" = kvm ]; then CPU="${CPU:-host}"; else CPU="${CPU:-max}"; fi
CONFIG_DRIVE="${CONFIG_DRIVE:-disk}"
NET="${NET:-static}"
SSH_CHECK="${SSH_CHECK:-1}"
TIMEOUT="${TIMEOUT:-120}"
MAC=52:54:00:12:34:56

log() { echo "boot-check: $*"; }

ensure_debs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    [ -n "${NIMBUS_APT_UPDATED:-}" ] || apt-get update -q
    export NIMBUS_APT_UPDATED=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}
# Installing bookworm's qemu-system-x86 removes a newer backported qemu-utils (as the machine
# image ships); the second call puts bookworm's qemu-utils back.
PKGS=(qemu-system-x86 qemu-utils genisoimage socat openssh-client)
ensure_debs "${PKGS[@]}"
ensure_debs "${PKGS[@]}"

"$ROOT/scripts/build-default-image.sh" "$IMAGE_DIR"
IMAGE_DIR="$(cd "$IMAGE_DIR" && pwd)"
BASE="$IMAGE_DIR/nimbus-tiny.qcow2"

T="$(mktemp -d /tmp/nimbus-boot-check.XXXXXX)"
QPID=
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT

# Copy-on-write overlay: the base image stays pristine.
qemu-img create -q -f qcow2 -F qcow2 -b "$BASE" "$T/disk.qcow2"

# Config drive (OpenStack layout, ISO9660 labelled config-2).
mkdir -p "$T/cd/openstack/latest"
ssh-keygen -q -t ed25519 -N '' -C test -f "$T/id_ed25519"
PUBKEY="$(cat "$T/id_ed25519.pub")"
UUID="$(cat /proc/sys/kernel/random/uuid)"
cat >"$T/cd/openstack/latest/meta_data.json" <<EOF
{
  "uuid": "$UUID",
  "name": "vm1",
  "hostname": "vm1",
  "launch_index": 0,
  "availability_zone": "nova",
  "public_keys": {"k1": "$PUBKEY"},
  "keys": [{"name": "k1", "type": "ssh", "data": "$PUBKEY"}],
  "meta": {}
}
EOF
if [ "$NET" = static ]; then
  # QEMU's user-mode network: guest 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3.
  cat >"$T/cd/openstack/latest/network_data.json" <<EOF
{
  "links": [{"id": "tap0", "type": "phy", "ethernet_mac_address": "$MAC", "mtu": 1500}],
  "networks": [{"id": "network0", "type": "ipv4", "link": "tap0", "ip_address": "10.0.2.15",
    "netmask": "255.255.255.0", "network_id": "$UUID",
    "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.2.2"}]}],
  "services": [{"type": "dns", "address": "10.0.2.3"}]
}
EOF
fi
cat >"$T/cd/openstack/latest/user_data" <<'EOF'
#!/bin/sh
echo "hello from user-data"
EOF
genisoimage -quiet -o "$T/config.iso" -V config-2 -J -R "$T/cd"

case "$CONFIG_DRIVE:$MACHINE" in
disk:*) CD_ARGS=(-drive "file=$T/config.iso,if=virtio,format=raw,readonly=on") ;;
cdrom:pc) CD_ARGS=(-drive "file=$T/config.iso,if=ide,media=cdrom,format=raw") ;;
cdrom:*) CD_ARGS=(-device virtio-scsi-pci,id=scsi0 -drive "file=$T/config.iso,if=none,id=cd0,media=cdrom,format=raw"
  -device scsi-cd,drive=cd0,bus=scsi0.0) ;;
*) log "unknown CONFIG_DRIVE=$CONFIG_DRIVE"; exit 2 ;;
esac

HOSTFWD=
SSH_PORT=
if [ "$SSH_CHECK" = 1 ]; then
  for _ in $(seq 20); do
    p=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$p" | grep -q .; then SSH_PORT=$p; break; fi
  done
  [ -n "$SSH_PORT" ] || { log "no free local port"; exit 1; }
  HOSTFWD=",hostfwd=tcp:127.0.0.1:$SSH_PORT-:22"
fi

CONSOLE="$T/console.log"
QMP="$T/qmp.sock"
: >"$CONSOLE"
log "booting $BASE (machine $MACHINE, accel $ACCEL, cpu $CPU, config drive as $CONFIG_DRIVE, network $NET)"
START=$(date +%s%N)
qemu-system-x86_64 -machine "$MACHINE" -accel "$ACCEL" -cpu "$CPU" -m 256 -smp 1 \
  -nodefaults -no-user-config -display none \
  -drive "file=$T/disk.qcow2,if=virtio,format=qcow2" \
  "${CD_ARGS[@]}" \
  -netdev "user,id=net0,restrict=on$HOSTFWD" -device "virtio-net-pci,netdev=net0,mac=$MAC" \
  -serial "file:$CONSOLE" \
  -qmp "unix:$QMP,server=on,wait=off" &
QPID=$!

FAILED=0
fail() { log "FAIL: $*"; FAILED=1; }
ok() { log "ok: $*"; }
elapsed() { awk -v a="$START" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
qmp() { # COMMAND...: runs QMP commands, prints the replies
  { echo '{"execute":"qmp_capabilities"}'; for c in "$@"; do echo "{\"execute\":\"$c\"}"; done; sleep 0.3; } |
    socat -t 2 - "UNIX-CONNECT:$QMP" 2>/dev/null || true
}

READY=
deadline=$((TIMEOUT * 10))
for ((i = 0; i < deadline; i++)); do
  if grep -qa '^nimbus-tiny: ready' "$CONSOLE"; then READY=$(elapsed); break; fi
  kill -0 "$QPID" 2>/dev/null || break
  sleep 0.1
done

if [ -z "$READY" ]; then
  fail "no ready line within ${TIMEOUT}s (QEMU $(kill -0 "$QPID" 2>/dev/null && echo running || echo exited))"
else
  ok "ready line after $READY s from QEMU start"
  line="$(grep -a '^nimbus-tiny: ready' "$CONSOLE" | head -1 | tr -d '\r')"
  [ "$line" = "nimbus-tiny: ready hostname=vm1" ] && ok "hostname vm1 ($line)" || fail "unexpected ready line: $line"
  [ "$(grep -ac '^nimbus-tiny: ready' "$CONSOLE")" = 1 ] || fail "ready line printed more than once"
  grep -qa '^hello from user-data' "$CONSOLE" && ok "user_data ran" || fail "no user_data output"
  if [ "$NET" = static ]; then
    grep -qa 'eth0 static 10.0.2.15' "$CONSOLE" && ok "static address from network_data.json" || fail "static address not applied"
  else
    grep -qa 'eth0 bound 10.0.2.15' "$CONSOLE" && ok "DHCP lease" || fail "no DHCP lease"
  fi
  if [ "$SSH_CHECK" = 1 ]; then
    out="$(timeout 60 ssh -i "$T/id_ed25519" -p "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=30 root@127.0.0.1 \
      'hostname; cat /proc/sys/kernel/hostname; ip -4 addr show eth0 | grep -c 10.0.2.15' 2>&1 || true)"
    if [ "$(echo "$out" | tr '\n' ' ')" = "vm1 vm1 1 " ]; then ok "SSH as root with the injected key"; else fail "SSH check: $out"; fi
  fi
fi

# ACPI power button; a clean guest power-off makes QEMU exit by itself. A guest that never got
# ready may not listen for it yet: just stop QEMU then.
if ! kill -0 "$QPID" 2>/dev/null; then
  [ -z "$READY" ] || fail "QEMU exited by itself after the ready line"
elif [ -z "$READY" ]; then
  qmp quit >/dev/null
else
  PD_START=$(date +%s%N)
  qmp system_powerdown >/dev/null
  for _ in $(seq 300); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$QPID" 2>/dev/null; then
    fail "guest did not power off within 30 s of system_powerdown"
    qmp quit >/dev/null
    sleep 1
  elif grep -qa 'reboot: Power down' "$CONSOLE"; then
    ok "powered off on ACPI power button, $(awk -v a="$PD_START" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s after system_powerdown"
  else
    fail "QEMU exited without a guest power-off"
  fi
fi
wait "$QPID" 2>/dev/null || true
QPID=

[ -z "${KEEP_LOG:-}" ] || cp "$CONSOLE" "$KEEP_LOG"
if [ "$FAILED" != 0 ]; then
  log "serial console (last 60 lines):"
  tail -n 60 "$CONSOLE" | sed -e 's/\x1b\[[0-9;]*[a-zA-Z]//g' -e 's/^/  | /'
  echo
  log "FAILED"
  exit 1
fi
log "PASSED (ready after $READY s under $ACCEL)"
