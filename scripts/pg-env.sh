# Sourced by scripts/test: starts a PostgreSQL of its own (Debian's, with pgcrypto) for the test
# of scripts/export-neptun-users: a new cluster in a temporary directory, on a free loopback
# port, with a random password, stopped and removed however the sourcing script ends (an EXIT
# trap, run before any EXIT trap set earlier, which it keeps).
#
# Installs Debian's postgresql and postgresql-contrib with apt-get when missing (as root, as
# scripts/test expects). As root the server runs as the `postgres` user: PostgreSQL refuses to
# run as root.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || ! command -v psql >/dev/null ||
  [ ! -f "$("$pg_bin/pg_config" --sharedir)/extension/pgcrypto.control" ]; then
  echo "$0: installing postgresql and postgresql-contrib (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

pg_dir=$(mktemp -d -t neptun-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '%s\n' "$pg_password" >"$pg_dir/pwfile"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres: "$pg_dir"
  as_pg=(runuser -u postgres --)
fi

pg_stop() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
# `trap -p` prints the earlier trap quoted for the shell; the function keeps the sourcing
# script's own arguments untouched.
pg_earlier_exit_trap() { eval "set -- $(trap -p EXIT)"; printf '%s' "${3:-}"; }
trap "pg_stop; $(pg_earlier_exit_trap)" EXIT

# fsync off: a test cluster that is thrown away, on a machine others build on.
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A scram-sha-256 \
  --pwfile="$pg_dir/pwfile" -E UTF8 --locale=C.UTF-8 --no-sync >"$pg_dir/initdb.log" 2>&1 || {
  echo "$0: initdb failed:" >&2; cat "$pg_dir/initdb.log" >&2; exit 1
}
rm -f "$pg_dir/pwfile"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off" start >/dev/null || {
  echo "$0: PostgreSQL did not start:" >&2; cat "$pg_dir/server.log" >&2; exit 1
}

export NEPTUN_TEST_PGPORT="$pg_port" NEPTUN_TEST_PGPASSWORD="$pg_password"
export NEPTUN_REQUIRE_POSTGRES=1
echo "$0: PostgreSQL $("$pg_bin/pg_config" --version | cut -d' ' -f2) at 127.0.0.1:$pg_port" >&2
