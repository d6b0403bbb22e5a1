#!/usr/bin/env bash
# Quick start, command 2: run every test. Installs what is missing (Debian packages, the
# Python clients in .venv, a running PostgreSQL, Chromium and the console tests' npm
# packages), then runs the Rust tests (unit, store on SQLite and PostgreSQL, integration
# tests driving the real binary with the real clients, the console in a browser)
# and the Tempest identity, image, network, compute and volume tests of the committed
# expected-pass lists (tests/tempest/*-expected.txt).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
# iproute2, dnsmasq-base and nftables: the virtual networks' namespaces, DHCP and filters; busybox-static: the
# DHCP client the network plane's test runs in a namespace.
ensure_debs ca-certificates pkg-config qemu-utils qemu-system-x86 genisoimage openssh-client iproute2 dnsmasq-base \
  busybox-static nftables
# chromium: the console's browser tests (playwright-core from npm drives it).
ensure_debs chromium
ensure_node
ensure_venv
ensure_postgres
export NIMBUS_VENV="$VENV"

echo "== default image (nimbus-tiny, cached)"
bash scripts/build-default-image.sh "$ROOT/target/nimbus-tiny"
export NIMBUS_TINY_DIR="$ROOT/target/nimbus-tiny"

echo "== console browser test's packages (playwright-core)"
(cd tests/console && npm ci --no-audit --no-fund)

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== tempest (identity, image, network, compute, volume)"
bash tests/tempest/region.sh
