#!/usr/bin/env bash
# Creates and starts a real streaming standby of the local PostgreSQL (127.0.0.1:5432) on another port, with
# pg_basebackup -R. Usage: standby.sh start PORT | standby.sh stop PORT. Prints the standby's base URL on start.
set -euo pipefail
action=$1
port=${2:-5433}
dir=/tmp/aidg-standby-$port
version=$(ls /etc/postgresql | sort -V | tail -n 1)
bin=/usr/lib/postgresql/$version/bin
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "$action" = stop ]; then
  [ -f "$dir/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

# Replication connections from loopback (the local cluster trusts loopback for ordinary connections only).
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  echo 'host replication all 127.0.0.1/32 trust' >> "$hba"
  psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null
fi
"$0" stop "$port"
as_postgres pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$dir" -R -X stream -c fast >/dev/null
cat > "$dir/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
hba_file = '$dir/pg_hba.conf'
ident_file = '$dir/pg_ident.conf'
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$dir/pg_hba.conf"
: > "$dir/pg_ident.conf"
chown postgres:postgres "$dir/postgresql.conf" "$dir/pg_hba.conf" "$dir/pg_ident.conf" 2>/dev/null || true
as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
for _ in $(seq 1 60); do
  [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] && break
  sleep 1
done
echo "postgresql://postgres@127.0.0.1:$port"
