#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run a region on 127.0.0.1 with
# an embedded SQLite store in ./.nimbus. Extra arguments go to `nimbus up`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_debs ca-certificates pkg-config qemu-utils qemu-system-x86 genisoimage iproute2 dnsmasq-base nftables
ensure_node
bash scripts/build-default-image.sh "$ROOT/target/nimbus-tiny"
cargo build --release --bin nimbus
exec target/release/nimbus up --default-image-dir "$ROOT/target/nimbus-tiny" "$@"
