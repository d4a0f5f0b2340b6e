#!/usr/bin/env bash
# Runs an end-to-end test binary with every service it starts reaching PostgreSQL through a real
# PgBouncer in transaction pooling mode (Debian's pgbouncer 1.18, which keeps no prepared
# statements across transactions), in front of the server of MM_TEST_DATABASE_URL.
#
#   through_pgbouncer.sh listen|poll <test binary> [gtest args...]
#
# listen: the recommended set-up, MM_DATABASE_LISTEN_URL is the direct connection (LISTEN and
#         the pull-source leader locks);
# poll:   no direct connection at all; the change follower polls.
# The pool is 2 server connections per database, far fewer than a service's clients, so
# consecutive transactions of one client land on different server sessions: anything that
# relied on session state (a prepared statement, a SET, a session lock) would fail here.
# tests/support/service_process.cc reads MM_TEST_PGBOUNCER_URL and MM_TEST_PGBOUNCER_LISTEN.
set -euo pipefail
mode="$1"
shift
case "$mode" in listen | poll) ;; *) echo "usage: $0 listen|poll <test> [args]" >&2; exit 2 ;; esac
: "${MM_TEST_DATABASE_URL:?MM_TEST_DATABASE_URL must point at the test PostgreSQL}"
pgbouncer=/usr/sbin/pgbouncer
[ -x "$pgbouncer" ] || { echo "pgbouncer is not installed (Debian package pgbouncer)" >&2; exit 1; }

# host and port of the test server, from its URL (postgresql://user@host:port/db)
hostport="${MM_TEST_DATABASE_URL#*://}"
hostport="${hostport#*@}"
hostport="${hostport%%/*}"
host="${hostport%:*}"
port="${hostport##*:}"
user="${MM_TEST_DATABASE_URL#*://}"
user="${user%%@*}"

dir=$(mktemp -d /tmp/mm-pgbouncer.XXXXXX)
listen_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$host port=$port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $listen_port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 2000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo "\"$user\" \"\"" >"$dir/userlist.txt"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$pgbouncer" "$dir/pgbouncer.ini" >"$dir/stdout" 2>&1 &
bouncer=$!
cleanup() {
  kill "$bouncer" 2>/dev/null || true
  wait "$bouncer" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null; then break; fi
  sleep 0.05
done

export MM_TEST_PGBOUNCER_URL="postgresql://$user@127.0.0.1:$listen_port/postgres"
export MM_TEST_PGBOUNCER_LISTEN="$mode"
status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- pgbouncer log ($dir/pgbouncer.log), last 40 lines:"
  tail -n 40 "$dir/pgbouncer.log" || true
fi
exit "$status"
