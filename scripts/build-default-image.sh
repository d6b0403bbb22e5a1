#!/usr/bin/env bash
# Builds `nimbus-tiny`, the cloud's default public image, from Debian packages only: the Debian
# cloud kernel (linux-image-cloud-amd64, unpacked, never installed) and a busybox-static
# initramfs whose /init reads the OpenStack config drive.
#
# Usage: scripts/build-default-image.sh OUTPUT_DIR
#
# Writes into OUTPUT_DIR:
#   nimbus-tiny.qcow2  MBR disk, one FAT16 partition holding SYSLINUX, the kernel and the
#                      initramfs; SeaBIOS boots it with no -kernel flag
#   vmlinuz            the same kernel, for direct -kernel boots
#   initrd.img         the same initramfs, for direct -initrd boots
#   cmdline            the kernel command line the bootloader uses
#   nimbus-tiny.stamp  the versions of every input; outputs are rebuilt only when it changes
#
# Built without loop devices or mounts: mkfs.vfat on a file, syslinux (mtools based) and mcopy
# into that file, sfdisk on the disk file, dd to place the partition and the MBR boot code.
# Runs as root (installs missing Debian packages with apt-get, `apt-get update` only when one
# is missing or the package lists are).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTPUT_DIR" >&2
  exit 2
fi
OUT="$1"
SELF="$(readlink -f "${BASH_SOURCE[0]}")"
export LC_ALL=C
# Fixed timestamps (2000-01-01) for the initramfs and the FAT files (mtools honours it): the
# same inputs give byte-identical outputs.
export SOURCE_DATE_EPOCH=946684800

# Debian packages used on the build host. qemu-utils: qemu-img; mtools + dosfstools: FAT image
# in a file; syslinux: boot sector installer working on a file; syslinux-common: mbr.bin and
# ldlinux; fdisk: sfdisk; busybox-static: the guest userland; dropbear-bin: optional SSH server.
HOST_PKGS=(busybox-static cpio gzip syslinux syslinux-common mtools dosfstools fdisk qemu-utils dropbear-bin)
KERNEL_META=linux-image-cloud-amd64
# quiet: kernel errors still reach the console; under TCG it saves about 0.5 s of serial output.
CMDLINE="console=ttyS0,115200n8 panic=10 quiet"

# Modules the initramfs loads, in this order (dependencies are resolved from each module's
# `depends=` and loaded first). Required ones must exist as modules or be built in.
MODS_REQUIRED=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
  failover net_failover virtio_net virtio_scsi virtio_console isofs sr_mod)
# Optional: entropy, memory balloon, PIIX IDE (config drive as IDE CD on `-machine pc`), SCSI
# disks, ACPI power button + evdev (busybox acpid powers off on it).
MODS_OPTIONAL=(virtio_rng virtio_balloon ata_piix sd_mod button evdev)

log() { echo "build-default-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

# NIMBUS_APT_UPDATED=1: the caller has just refreshed the package lists.
APT_UPDATED="${NIMBUS_APT_UPDATED:-}"
apt_update_once() {
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    apt-get update -q >&2
    APT_UPDATED=1
  fi
}

ensure_debs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "packages missing (${missing[*]}) and not running as root"
    apt_update_once
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

deb_version() { dpkg-query -W -f='${Version}' "$1"; }

ensure_debs "${HOST_PKGS[@]}"

# The concrete kernel package behind the metapackage, and its version, from the package lists.
kernel_pkg() {
  apt-cache depends --important "$KERNEL_META" 2>/dev/null |
    awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-/ { print $2; exit }'
}
resolve_kernel() { # sets KPKG and KVER
  KPKG="$(kernel_pkg || true)"
  if [ -z "$KPKG" ]; then
    apt_update_once
    KPKG="$(kernel_pkg || true)"
  fi
  [ -n "$KPKG" ] || die "cannot resolve $KERNEL_META in the Debian package lists"
  KVER="$(apt-cache policy "$KPKG" | awk '/Candidate:/ { print $2; exit }')"
  [ -n "$KVER" ] && [ "$KVER" != "(none)" ] || die "no candidate version for $KPKG"
}
resolve_kernel

BUSYBOX="$(dpkg -L busybox-static | grep -E '/busybox$' | head -1)"
[ -x "$BUSYBOX" ] || die "busybox-static binary not found"
DROPBEAR=/usr/sbin/dropbear
DROPBEAR_LIBS=()
if [ -x "$DROPBEAR" ]; then
  mapfile -t DROPBEAR_LIBS < <(ldd "$DROPBEAR" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
fi
stamp() {
  echo "script $(sha256sum "$SELF" | cut -d' ' -f1)"
  echo "kernel $KPKG $KVER"
  for p in busybox-static syslinux syslinux-common mtools dosfstools fdisk qemu-utils dropbear-bin; do
    echo "deb $p $(deb_version "$p")"
  done
  # The shared libraries copied beside dropbear, by content (their packages move under usrmerge).
  for f in "${DROPBEAR_LIBS[@]}"; do echo "lib $f $(sha256sum <"$f" | cut -d' ' -f1)"; done
}
STAMP_WANT="$(stamp)"

OUTPUTS=(nimbus-tiny.qcow2 vmlinuz initrd.img cmdline)
up_to_date() {
  local f
  [ -f "$OUT/nimbus-tiny.stamp" ] || return 1
  for f in "${OUTPUTS[@]}"; do [ -s "$OUT/$f" ] || return 1; done
  [ "$(cat "$OUT/nimbus-tiny.stamp")" = "$STAMP_WANT" ]
}
if up_to_date; then
  log "up to date: $OUT/nimbus-tiny.qcow2 ($KPKG $KVER)"
  exit 0
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "$OUT/.build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log "building nimbus-tiny with $KPKG $KVER in $WORK"

# --- kernel -------------------------------------------------------------------------------
download_kernel() { (cd "$WORK" && apt-get download -q -o APT::Sandbox::User=root "$KPKG=$KVER" >&2); }
if ! download_kernel; then
  # Stale package lists name a version the archive no longer has: refresh them once.
  [ -z "$APT_UPDATED" ] || die "cannot download $KPKG $KVER"
  apt_update_once
  resolve_kernel
  STAMP_WANT="$(stamp)"
  download_kernel || die "cannot download $KPKG $KVER"
fi
dpkg-deb -x "$WORK"/"$KPKG"_*.deb "$WORK/kernel"
KIMG="$(ls "$WORK"/kernel/boot/vmlinuz-* | head -1)"
MODDIR="$(ls -d "$WORK"/kernel/lib/modules/* | head -1)"
[ -f "$KIMG" ] && [ -f "$MODDIR/modules.order" ] || die "unexpected layout in $KPKG"

# --- initramfs tree -----------------------------------------------------------------------
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/nimbus,etc/acpi/PWRF,etc/dropbear,lib/modules,proc,sys,dev,run,tmp,mnt,root/.ssh,var/log,usr/share/nimbus}
ln -s ../run "$R/var/run"
chmod 1777 "$R/tmp"
chmod 700 "$R/root" "$R/root/.ssh"
cp "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
  case "$applet" in bin/busybox | linuxrc) continue ;; esac
  [ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
# Console nodes for the kernel to open before /init mounts devtmpfs (needs root; /init
# redirects to /dev/console again after mounting, so a build without them still boots).
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$R/dev/null" c 1 3 2>/dev/null || true

# Kernel modules: resolve dependencies from the .ko files themselves (the package ships no
# modules.dep), keep a flat /lib/modules/NAME.ko and the load order in /etc/nimbus/modules.
declare -A KO=() SEEN=()
while read -r p; do
  b="${p##*/}"; b="${b%.ko}"; KO["${b//-/_}"]="$p"
done <"$MODDIR/modules.order"
BUILTIN="$(sed -e 's|.*/||' -e 's|\.ko$||' -e 's|-|_|g' "$MODDIR/modules.builtin")"
ORDER=()
add_mod() { # NAME REQUIRED
  local m="${1//-/_}" d deps
  [ -z "${SEEN[$m]:-}" ] || return 0
  SEEN[$m]=1
  if [ -z "${KO[$m]:-}" ]; then
    if grep -qx "$m" <<<"$BUILTIN"; then return 0; fi
    [ "$2" = required ] && die "module $m is neither a module nor built into $KPKG"
    log "optional module $m not in $KPKG, skipped"
    return 0
  fi
  deps="$(tr '\0' '\n' <"$MODDIR/${KO[$m]}" | sed -n 's/^depends=//p' | head -1)"
  for d in ${deps//,/ }; do add_mod "$d" required; done
  cp "$MODDIR/${KO[$m]}" "$R/lib/modules/$m.ko"
  ORDER+=("$m")
}
for m in "${MODS_REQUIRED[@]}"; do add_mod "$m" required; done
for m in "${MODS_OPTIONAL[@]}"; do add_mod "$m" optional; done
# One module a line with its parameters: SCSI scans finish before insmod returns, so /init
# sees CD-ROMs at once.
for m in "${ORDER[@]}"; do
  case "$m" in scsi_mod) echo "$m scan=sync" ;; *) echo "$m" ;; esac
done >"$R/etc/nimbus/modules"
log "modules: ${ORDER[*]}"

# Dropbear (optional SSH server) with the shared libraries it links.
if [ -x "$DROPBEAR" ]; then
  cp "$DROPBEAR" "$R/usr/sbin/dropbear"
  for f in "${DROPBEAR_LIBS[@]}"; do
    mkdir -p "$R$(dirname "$f")"
    cp -L "$f" "$R$f"
  done
fi

cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 600 "$R/etc/shadow"
cat >"$R/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
printf '/bin/sh\n/bin/ash\n' >"$R/etc/shells"
printf 'NAME="nimbus-tiny"\nID=nimbus-tiny\nPRETTY_NAME="nimbus-tiny (%s)"\n' "$KPKG $KVER" >"$R/etc/os-release"
echo "$KVER" >"$R/etc/nimbus/kernel-version"
cat >"$R/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
PS1='\u@\h:\w\$ '
EOF

# busybox init takes over as PID 1 once /init is done: a shell on the console, clean power-off.
cat >"$R/etc/inittab" <<'EOF'
::respawn:/etc/nimbus/console-shell
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/nimbus/shutdown
EOF
cat >"$R/etc/nimbus/console-shell" <<'EOF'
#!/bin/sh
# A root shell on the kernel console (ttyS0). Without a usable console (no UART), wait
# instead of letting init respawn a failing shell every second.
tty="$(cat /sys/class/tty/console/active 2>/dev/null)"
tty="${tty##* }"
if [ -n "$tty" ] && stty -F "/dev/$tty" >/dev/null 2>&1; then
  exec /bin/cttyhack /bin/sh -l
fi
while :; do sleep 86400; done
EOF
cat >"$R/etc/nimbus/shutdown" <<'EOF'
#!/bin/sh
echo "nimbus-init: shutting down"
sync
EOF
# busybox acpid: the ACPI power button (KEY_POWER from the `button` driver via evdev) maps to
# the PWRF/00000080 action, run from /etc/acpi.
cat >"$R/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "nimbus-init: ACPI power button, powering off" >/dev/console
exec /sbin/poweroff
EOF
cat >"$R/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: applies a lease to $interface.
event="$1"
case "$event" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set "$interface" up
  ;;
bound | renew)
  [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
  if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
  fi
  if [ -n "$router" ]; then
    set -- $router
    ip route replace default via "$1" dev "$interface"
  fi
  if [ -n "$dns" ]; then
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for s in $dns; do echo "nameserver $s" >>/etc/resolv.conf; done
  fi
  echo "nimbus-init: $interface $event $ip/${mask:-24} via ${router:-none}"
  ;;
esac
exit 0
EOF

cat >"$R/usr/share/nimbus/jsonflat.awk" <<'EOF'
# Flattens JSON into one "path<TAB>value" line per scalar; the path joins object keys and
# array indices with "/" (e.g. public_keys/k1, networks/0/routes/0/gateway). Strings are
# unescaped except \n, kept as the two characters \n so that a value stays on one line (tabs
# become spaces, \r is dropped, \uXXXX outside ASCII becomes "?"). Exits 1 on malformed
# input (after printing what it read before the error).
BEGIN { RS = "\001" }
{ s = s $0 "\n" }
END {
  n = length(s); pos = 1; bad = 0
  value("")
  if (bad) { print "jsonflat: malformed JSON near offset " pos > "/dev/stderr"; exit 1 }
}
function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
function join(p, k) { return p == "" ? k : p "/" k }
function value(path,   c) {
  ws(); c = substr(s, pos, 1)
  if (c == "{") obj(path)
  else if (c == "[") arr(path)
  else if (c == "\"") emit(path, str())
  else if (c != "" && index("-0123456789tfn", c)) emit(path, lit())
  else bad = 1
}
function emit(path, v) { if (path != "" && !bad) print path "\t" v }
function obj(path,   k, c) {
  pos++; ws()
  if (substr(s, pos, 1) == "}") { pos++; return }
  while (!bad) {
    ws(); if (substr(s, pos, 1) != "\"") { bad = 1; return }
    k = str(); ws()
    if (substr(s, pos, 1) != ":") { bad = 1; return }
    pos++; value(join(path, k)); ws()
    c = substr(s, pos, 1); pos++
    if (c == "}") return
    if (c != ",") { bad = 1; return }
  }
}
function arr(path,   i, c) {
  pos++; ws()
  if (substr(s, pos, 1) == "]") { pos++; return }
  for (i = 0; !bad; i++) {
    value(join(path, i)); ws()
    c = substr(s, pos, 1); pos++
    if (c == "]") return
    if (c != ",") { bad = 1; return }
  }
}
function lit(   start) {
  start = pos
  while (pos <= n && !index(",}] \t\r\n", substr(s, pos, 1))) pos++
  return substr(s, start, pos - start)
}
function hexval(h,   i, v) {
  v = 0
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
  return v
}
function str(   out, c, e, v) {
  pos++; out = ""
  while (pos <= n) {
    c = substr(s, pos, 1); pos++
    if (c == "\"") return out
    if (c == "\\") {
      e = substr(s, pos, 1); pos++
      if (e == "n") out = out "\\n"
      else if (e == "t") out = out " "
      else if (e == "r") out = out
      else if (e == "u") {
        v = hexval(substr(s, pos, 4)); pos += 4
        out = out ((v >= 32 && v < 127) ? sprintf("%c", v) : (v < 32 ? " " : "?"))
      }
      else if (e != "b" && e != "f") out = out e
    }
    else if (c == "\n" || c == "\t") out = out " "
    else out = out c
  }
  bad = 1; return out
}
EOF

cat >"$R/usr/share/nimbus/netplan.awk" <<'EOF'
# Turns flattened network_data.json into a plan, one action a line:
#   mtu MAC N | static MAC ADDR NETMASK | route MAC NET NETMASK GW | dhcp MAC | dns ADDR
#   | skip MAC TYPE          (MAC is "-" when the network names no link with a MAC)
BEGIN { FS = "\t" }
{ val[$1] = substr($0, length($1) + 2) }
END {
  for (i = 0; ("links/" i "/id") in val; i++) {
    m = tolower(val["links/" i "/ethernet_mac_address"]); if (m == "") m = "-"
    mac[val["links/" i "/id"]] = m
    if (val["links/" i "/mtu"] ~ /^[0-9]+$/ && m != "-") print "mtu", m, val["links/" i "/mtu"]
  }
  for (i = 0; ("networks/" i "/type") in val; i++) {
    p = "networks/" i "/"; t = val[p "type"]
    m = mac[val[p "link"]]; if (m == "") m = "-"
    if (t == "ipv4" && val[p "ip_address"] != "") {
      print "static", m, val[p "ip_address"], (val[p "netmask"] == "" ? "-" : val[p "netmask"])
      for (j = 0; (p "routes/" j "/network") in val; j++) {
        q = p "routes/" j "/"
        if (val[q "gateway"] != "") print "route", m, val[q "network"], val[q "netmask"], val[q "gateway"]
      }
      if (val[p "gateway"] != "") print "route", m, "0.0.0.0", "0.0.0.0", val[p "gateway"]
      for (j = 0; (p "dns_nameservers/" j) in val; j++) print "dns", val[p "dns_nameservers/" j]
    } else if (t == "ipv4_dhcp" || t == "dhcp4" || t == "dhcp") print "dhcp", m
    else print "skip", m, t
  }
  for (i = 0; ("services/" i "/type") in val; i++)
    if (val["services/" i "/type"] == "dns") print "dns", val["services/" i "/address"]
}
EOF

cat >"$R/init" <<'EOF'
#!/bin/sh
# nimbus-tiny /init (PID 1): mount the API filesystems, load the drivers, apply the OpenStack
# config drive (hostname, SSH keys, network, user_data), print the ready line, then hand PID 1
# to busybox init (console shell, ACPI power-off).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
if (: </dev/console) 2>/dev/null; then exec </dev/console >/dev/console 2>&1; fi
mkdir -p /dev/pts /dev/shm /run/nimbus
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
umask 022

say() { echo "nimbus-init: $*"; }
J=/usr/share/nimbus

while read -r m args; do
  insmod "/lib/modules/$m.ko" $args 2>/dev/null || say "insmod $m failed"
done </etc/nimbus/modules
syslogd -C256
acpid -c /etc/acpi -l /var/log/acpid.log
ip link set lo up

# --- config drive: a filesystem labelled config-2 (ISO9660 on a virtio disk or a CD) ---------
iso_label() { # DEVICE -> the volume id of an ISO9660 filesystem on it (empty otherwise)
  pvd="$(dd if="$1" bs=2048 skip=16 count=1 2>/dev/null | head -c 72 | tr -d '\000')"
  case "$pvd" in ?CD001*) echo "$pvd" | cut -c41-72 | sed 's/ *$//' ;; esac
}
uptime_ds() { read -r up _ </proc/uptime; up="${up%.*}${up#*.}"; echo "${up#0}"; } # 1/100 s
find_config_drive() {
  # Virtio disks exist once virtio_blk is loaded, and SCSI/ATA scans finish within insmod
  # (scsi_mod scan=sync); look again for up to 1 s anyway for slow CD drives. busybox findfs
  # covers other filesystems labelled config-2 (e.g. vfat).
  end=$(($(uptime_ds) + 100))
  while :; do
    for b in /sys/class/block/*; do
      d="/dev/${b##*/}"
      case "${b##*/}" in loop* | ram*) continue ;; esac
      [ -b "$d" ] || continue
      case "$(iso_label "$d")" in config-2 | CONFIG-2) echo "$d"; return 0 ;; esac
    done
    d="$(findfs LABEL=config-2 2>/dev/null)" && [ -n "$d" ] && { echo "$d"; return 0; }
    [ "$(uptime_ds)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
CFG=
if dev="$(find_config_drive)"; then
  mkdir -p /mnt/config
  if mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null || mount -o ro "$dev" /mnt/config 2>/dev/null; then
    src=/mnt/config/openstack/latest
    [ -d "$src" ] || src="/mnt/config/openstack/$(ls /mnt/config/openstack 2>/dev/null | sort | tail -1)"
    if [ -d "$src" ]; then
      cp -r "$src" /run/nimbus/config && CFG=/run/nimbus/config
      say "config drive $dev (${src#/mnt/config/})"
    else
      say "config drive $dev has no openstack/ metadata"
    fi
    umount /mnt/config
  else
    say "cannot mount config drive $dev"
  fi
else
  say "no config drive"
fi

flat() { # FILE.json -> FILE.flat (empty on parse errors, which are reported)
  : >"$1.flat"
  [ -f "$1" ] || return 1
  awk -f $J/jsonflat.awk "$1" >"$1.flat" || { : >"$1.flat"; say "cannot parse ${1##*/}"; return 1; }
}
jget() { # KEY FLATFILE
  awk -F'\t' -v k="$1" '$1 == k { print substr($0, length(k) + 2); exit }' "$2"
}
META=/run/nimbus/meta_data.json.flat
NET=/run/nimbus/network_data.json.flat
: >$META
: >$NET
if [ -n "$CFG" ]; then
  cp "$CFG/meta_data.json" /run/nimbus/ 2>/dev/null && flat /run/nimbus/meta_data.json
  cp "$CFG/network_data.json" /run/nimbus/ 2>/dev/null && flat /run/nimbus/network_data.json
fi

# --- hostname ---------------------------------------------------------------------------------
fqdn="$(jget hostname $META)"
[ -n "$fqdn" ] || fqdn="$(jget name $META)"
fqdn="$(echo "$fqdn" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.\n-' '-' | sed -e 's/^[-.]*//' -e 's/[-.]*$//')"
[ -n "$fqdn" ] || fqdn=nimbus-tiny
HOST="$(echo "${fqdn%%.*}" | cut -c1-63 | sed 's/-*$//')"
[ -n "$HOST" ] || HOST=nimbus-tiny
hostname "$HOST"
echo "$HOST" >/etc/hostname
{
  echo "127.0.0.1 localhost"
  if [ "$fqdn" != "$HOST" ]; then echo "127.0.1.1 $fqdn $HOST"; else echo "127.0.1.1 $HOST"; fi
} >/etc/hosts

# --- SSH keys ---------------------------------------------------------------------------------
# public_keys (name -> key) and keys[] of type ssh; a value may hold several keys, one a line.
awk -F'\t' '
function add(v,   k, parts, i, x) {
  k = split(v, parts, /\\n/)
  for (i = 1; i <= k; i++) { x = parts[i]; gsub(/^[ \r]+|[ \r]+$/, "", x); if (x != "" && !seen[x]++) out[++n] = x }
}
{ v = substr($0, length($1) + 2) }
$1 ~ /^public_keys\// { add(v) }
$1 ~ /^keys\/[0-9]+\/type$/ { split($1, p, "/"); t[p[2]] = v }
$1 ~ /^keys\/[0-9]+\/data$/ { split($1, p, "/"); d[p[2]] = v }
END { for (i = 0; i in d; i++) if (!(i in t) || t[i] == "ssh") add(d[i]); for (j = 1; j <= n; j++) print out[j] }
' $META >/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
say "$(wc -l </root/.ssh/authorized_keys) SSH key(s) for root"

# --- network ----------------------------------------------------------------------------------
iface_by_mac() { # MAC -> its interface; "-" (or a MAC not found when there is one NIC): the first
  first= count=0
  for f in /sys/class/net/*/address; do
    n="${f%/address}"; n="${n##*/}"
    [ "$(cat "/sys/class/net/$n/type" 2>/dev/null)" = 1 ] || continue
    [ "$(cat "$f")" = "$1" ] && { echo "$n"; return; }
    count=$((count + 1)); [ -n "$first" ] || first="$n"
  done
  { [ "$1" = - ] || [ $count = 1 ]; } && echo "$first"
}
dhcp() { # IFACE
  ip link set "$1" up
  # Foreground until the first lease (or 5 tries), then it daemonizes and keeps renewing.
  udhcpc -i "$1" -s /etc/udhcpc.script -x "hostname:$HOST" -t 5 -T 1 -A 5 -b -p "/run/udhcpc.$1.pid"
}
prefix() { # NETMASK -> prefix length
  case "$1" in ''|-) echo 24 ;; [0-9]|[0-9][0-9]|[0-9][0-9][0-9]) echo "$1" ;; *) ipcalc -p 0.0.0.0 "$1" | cut -d= -f2 ;; esac
}
configured=0
dns=
if [ -s $NET ]; then
  awk -f $J/netplan.awk $NET >/run/nimbus/netplan
  while read -r what mac a b c; do
    case "$what" in dns) dns="$dns $mac"; continue ;; esac
    ifc="$(iface_by_mac "$mac")"
    [ -n "$ifc" ] || { say "network_data: no interface for $mac"; continue; }
    case "$what" in
    mtu) ip link set "$ifc" mtu "$a" ;;
    static)
      ip link set "$ifc" up
      case "$a" in */*) ip addr add "$a" dev "$ifc" ;; *) ip addr add "$a/$(prefix "$b")" dev "$ifc" ;; esac &&
        { configured=1; say "$ifc static $a"; }
      ;;
    route)
      if [ "$a" = 0.0.0.0 ]; then ip route replace default via "$c" dev "$ifc"
      else ip route replace "$a/$(prefix "$b")" via "$c" dev "$ifc"; fi
      ;;
    dhcp) dhcp "$ifc" && configured=1 ;;
    skip) say "network_data: $a on $ifc not configured (unsupported type)" ;;
    esac
  done </run/nimbus/netplan
  if [ -n "$dns" ]; then
    : >/etc/resolv.conf
    for s in $dns; do echo "nameserver $s" >>/etc/resolv.conf; done
  fi
fi
if [ "$configured" = 0 ]; then
  ifc="$(iface_by_mac -)"
  if [ -n "$ifc" ]; then dhcp "$ifc"; else say "no network interface"; fi
fi

# --- SSH server -------------------------------------------------------------------------------
if [ -x /usr/sbin/dropbear ]; then
  # -R: host keys made on first use; -s: keys only, no passwords.
  dropbear -R -s -p 22 || say "dropbear failed to start"
fi

# --- user_data --------------------------------------------------------------------------------
if [ -n "$CFG" ] && [ -s "$CFG/user_data" ]; then
  if [ "$(head -c 2 "$CFG/user_data")" = "#!" ]; then
    cp "$CFG/user_data" /run/nimbus/user_data
    chmod 700 /run/nimbus/user_data
    say "running user_data"
    (cd /root && /run/nimbus/user_data </dev/null)
    say "user_data exited with status $?"
  else
    say "user_data is not a script (no #!), ignored"
  fi
fi

echo "nimbus-tiny: ready hostname=$HOST"
exec /sbin/init
EOF
chmod 755 "$R/init" "$R/etc/nimbus/shutdown" "$R/etc/nimbus/console-shell" "$R/etc/acpi/PWRF/00000080" "$R/etc/udhcpc.script"

# Reproducible archive: fixed timestamps, sorted names, owner root.
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$R" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$WORK/initrd.img"
cp "$KIMG" "$WORK/vmlinuz"
echo "$CMDLINE" >"$WORK/cmdline"

# --- disk: MBR + one bootable FAT16 partition at 1 MiB --------------------------------------
cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT nimbus
PROMPT 0
TIMEOUT 0
LABEL nimbus
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND $CMDLINE
EOF
payload=$(($(stat -c %s "$WORK/vmlinuz") + $(stat -c %s "$WORK/initrd.img")))
part_mib=$(((payload + 1048575) / 1048576 + 4))
part_mib=$(((part_mib + 7) / 8 * 8))
PART="$WORK/part.img"
# -h 2048: the partition's offset, recorded as hidden sectors for the boot sector.
mkfs.vfat -C -F 16 -n NIMBUS -h 2048 --invariant "$PART" $((part_mib * 1024)) >/dev/null
syslinux --install "$PART"
mcopy -i "$PART" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
mdir -i "$PART" ::/ >/dev/null
DISK="$WORK/disk.raw"
truncate -s $(((part_mib + 1) * 1048576)) "$DISK"
printf 'label: dos\nlabel-id: 0x4e494d42\nstart=2048, size=%d, type=e, bootable\n' $((part_mib * 2048)) |
  sfdisk -q "$DISK" >/dev/null
dd if="$PART" of="$DISK" bs=1M seek=1 conv=notrunc status=none
MBR="$(dpkg -L syslinux-common | grep -E '/mbr/mbr\.bin$' | head -1)"
[ -f "$MBR" ] || die "syslinux mbr.bin not found"
dd if="$MBR" of="$DISK" bs=440 count=1 conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 "$DISK" "$WORK/nimbus-tiny.qcow2"

rm -f "$OUT/nimbus-tiny.stamp"
for f in "${OUTPUTS[@]}"; do mv -f "$WORK/$f" "$OUT/$f"; done
printf '%s\n' "$STAMP_WANT" >"$OUT/nimbus-tiny.stamp"
log "wrote $OUT/nimbus-tiny.qcow2 ($(du -k "$OUT/nimbus-tiny.qcow2" | cut -f1) KiB on disk, $((part_mib + 1)) MiB virtual)," \
  "vmlinuz ($(($(stat -c %s "$OUT/vmlinuz") / 1024)) KiB), initrd.img ($(($(stat -c %s "$OUT/initrd.img") / 1024)) KiB)"
