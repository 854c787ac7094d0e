# shellcheck shell=bash
# PostgreSQL 15 from Debian: a private cluster in .stack/postgres on SLUICE_PG_PORT, never the system one.

PG_BIN="${SLUICE_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DIR="$STACK_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"

pg_url_part() {
  # postgres://user:password@host:port/db
  local rest="${SLUICE_PG_URL#*://}" creds
  creds="${rest%%@*}"
  case "$1" in
    user) printf '%s\n' "${creds%%:*}" ;;
    password) printf '%s\n' "${creds#*:}" ;;
    db) local db="${rest#*/}"; printf '%s\n' "${db%%\?*}" ;;
  esac
}

postgres_port() { printf '%s\n' "$SLUICE_PG_PORT"; }
postgres_log() { printf '%s\n' "$PG_LOG"; }
postgres_pid() { live_pid "$PG_DIR/postgres.pid"; }

# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres OS user. setpriv execs
# in place (su/runuser would fork), so the recorded pid is the postmaster's.
pg_as_prefix() {
  if [ "$(id -u)" = 0 ]; then echo setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --; fi
}
pg_as() {
  # shellcheck disable=SC2046 # the prefix is a word list, empty when not root
  $(pg_as_prefix) "$@"
}

postgres_ensure() {
  [ -x "$PG_BIN/postgres" ] || ensure_apt postgresql
  [ -x "$PG_BIN/postgres" ] || die "postgresql 15 binaries not found in $PG_BIN (set SLUICE_PG_BIN)"
}

pg_grant_traverse() {
  # The postgres user must reach .stack/postgres; a repo under /root (mode 700) would block it.
  local d="$PG_DIR"
  if ! setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$PG_DIR"; then
    while [ "$d" != / ]; do
      d="$(dirname "$d")"
      if ! setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$d"; then
        say "postgres: granting traverse permission (o+x) on $d so the postgres user can reach $PG_DIR"
        chmod o+x "$d"
      fi
    done
  fi
}

postgres_init() {
  mkdir -p "$PG_DIR" "$PG_RUN"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "postgres: the 'postgres' OS user is missing (reinstall the postgresql package)"
    chown postgres:postgres "$PG_DIR" "$PG_RUN"
    touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
    pg_grant_traverse
  fi
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  local pw="$PG_DIR/.pw"
  pg_url_part password >"$pw"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pw"
  say "postgres: initdb into $PG_DATA"
  pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U "$(pg_url_part user)" --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 || { rm -f "$pw"; die "postgres: initdb failed; see $PG_LOG"; }
  rm -f "$pw"
}

postgres_start() {
  postgres_init
  require_free_port postgres "$SLUICE_PG_PORT"
  rm -f "$PG_DATA/postmaster.pid"
  # Settings on the command line so a changed stack.env applies on the next start without editing the cluster.
  # shellcheck disable=SC2046 # the prefix is a word list, empty when not root
  spawn "$PG_DIR/postgres.pid" "$PG_LOG" $(pg_as_prefix) "$PG_BIN/postgres" -D "$PG_DATA" \
    -c listen_addresses=127.0.0.1 -c port="$SLUICE_PG_PORT" -c unix_socket_directories="$PG_RUN" \
    -c max_connections=200 -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
    -c shared_buffers=128MB -c logging_collector=off -c log_min_messages=warning
}

postgres_health() {
  PGPASSWORD="$(pg_url_part password)" PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -qtAX -h 127.0.0.1 -p "$SLUICE_PG_PORT" \
    -U "$(pg_url_part user)" -d "$(pg_url_part db)" -c 'select 1' 2>/dev/null | grep -qx 1
}

# The first start creates the application database (initdb only makes "postgres").
postgres_after_start() {
  local db user
  db="$(pg_url_part db)"; user="$(pg_url_part user)"
  if ! PGPASSWORD="$(pg_url_part password)" "$PG_BIN/psql" -qtAX -h 127.0.0.1 -p "$SLUICE_PG_PORT" -U "$user" -d postgres \
    -c "select 1 from pg_database where datname = '$db'" | grep -qx 1; then
    PGPASSWORD="$(pg_url_part password)" "$PG_BIN/psql" -qX -h 127.0.0.1 -p "$SLUICE_PG_PORT" -U "$user" -d postgres \
      -c "create database \"$db\" owner \"$user\"" >&2
  fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$SLUICE_PG_PORT"; }

# SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client to disconnect.
postgres_stop_signal() { echo INT; }
