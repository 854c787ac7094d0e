# shellcheck shell=bash
# Sourced by scripts/stack.sh: helpers shared by the per-service files (process control, health polling,
# prerequisites). Every service process is started with setsid so it outlives the shell that started it and
# its whole process group (postgres backends included) can be signalled and measured as one.

say() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# "http://127.0.0.1:9000" -> "127.0.0.1:9000"; "postgres://u:p@h:5432/db" -> "h:5432"
hostport_of() { local u="${1#*://}"; u="${u##*@}"; printf '%s\n' "${u%%/*}"; }
host_of() { local hp; hp="$(hostport_of "$1")"; printf '%s\n' "${hp%:*}"; }
port_of() { local hp; hp="$(hostport_of "$1")"; printf '%s\n' "${hp##*:}"; }

# Exports the variables of FILE (scripts/stack.env) where the environment has none: the environment wins, as
# in shared/node/stack-env.ts (feedStackEnv). The services read only the environment, never the file.
feed_stack_env() {
  local key value
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    if [ -z "${!key:-}" ]; then export "$key=$value"; else export "${key?}"; fi
  done <"$1"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Prints the pid recorded in FILE when that process still runs; a stale file prints nothing. After a
# reboot the recorded pid may belong to some other process: one that started after FILE was written
# (spawn writes it right after the start) is not ours.
live_pid() {
  local file="$1" pid started
  [ -f "$file" ] || return 0
  pid="$(head -n1 "$file" 2>/dev/null | tr -dc '0-9')"
  pid_alive "$pid" || return 0
  started="$(date -d "$(ps -o lstart= -p "$pid" 2>/dev/null)" +%s 2>/dev/null)" || started=0
  if [ "$started" -le $(($(stat -c %Y "$file") + 5)) ]; then printf '%s\n' "$pid"; fi
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Who holds a TCP port (for "port in use" errors); empty when free.
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -n1
}

# Refuses to start a service on a port something else already listens on: the health check would
# otherwise talk to the stranger and report success.
require_free_port() {
  local svc="$1" port="$2" owner
  if tcp_open 127.0.0.1 "$port"; then
    owner="$(port_owner "$port")"
    die "$svc: port $port is already in use${owner:+ by $owner}; stop it or change the port in scripts/stack.env"
  fi
}

# spawn PIDFILE LOGFILE CMD... : detached start; the pid recorded is the service process itself.
spawn() {
  local pidfile="$1" logfile="$2"; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  printf '\n=== %s start: %s\n' "$(date -Is)" "$*" >>"$logfile"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$pidfile"
}

# stop_pid PID SIGNAL TIMEOUT_S : polite signal, wait, then SIGKILL the whole process group.
stop_pid() {
  local pid="$1" sig="${2:-TERM}" timeout="${3:-30}" i
  pid_alive "$pid" || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 5; i++)); do
    pid_alive "$pid" || break
    sleep 0.2
  done
  if pid_alive "$pid"; then
    say "pid $pid ignored SIG$sig for ${timeout}s: sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  # Group members (postgres backends) may linger a moment after their leader.
  for ((i = 0; i < 50; i++)); do
    pgrep -s "$pid" >/dev/null 2>&1 || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# Resident memory of a service: the process and all its descendants (postgres backends are children of the
# postmaster but start their own sessions), in KiB. Shared memory counts once per process.
session_rss_kib() {
  local pid="$1"
  pid_alive "$pid" || { echo 0; return; }
  ps -eo pid=,ppid=,rss= | awk -v root="$pid" '
    { parent[$1] = $2; rss[$1] = $3 }
    END {
      for (p in parent) {
        q = p
        while (q != "" && q != 0 && q != 1) { if (q == root) { s += rss[p]; break } q = parent[q] }
      }
      print s + 0
    }'
}

# wait_healthy NAME TIMEOUT_S PID_FN HEALTH_FN LOG : polls HEALTH_FN until it passes; fails early when the
# process died, naming the log to read.
wait_healthy() {
  local name="$1" timeout="$2" pidfn="$3" healthfn="$4" log="$5" start=$SECONDS pid
  while :; do
    if "$healthfn" >/dev/null 2>&1; then return 0; fi
    pid="$("$pidfn")"
    if [ -z "$pid" ]; then
      # The cause is usually logged well before the shutdown noise at the end.
      say "$name exited during startup; first errors, then last lines of $log:"
      grep -m 8 -E '\b(ERROR|FATAL|Exception)\b' "$log" >&2 2>/dev/null || true
      echo '...' >&2
      tail -n 15 "$log" >&2 2>/dev/null || true
      return 1
    fi
    if ((SECONDS - start >= timeout)); then
      say "$name (pid $pid) not healthy after ${timeout}s; see $log"
      return 1
    fi
    sleep 0.5
  done
}

# rerender_and_reload NAME RENDERED_FILE RENDER_FN URL LOG PID : `up` with the service already running renders its
# config again (RENDER_FN) and, when RENDERED_FILE changed and the service runs (PID), has it reload
# (POST URL/-/reload), so a running stack picks up a new config without a restart.
rerender_and_reload() {
  local name="$1" rendered="$2" render="$3" url="$4" log="$5" pid="$6" before=""
  [ -f "$rendered" ] && before="$(cat "$rendered")"
  "$render"
  if [ "$before" != "$(cat "$rendered")" ] && [ -n "$pid" ]; then
    if curl -fsS -m 5 -X POST -o /dev/null "$url/-/reload"; then
      say "$name: config changed; reloaded"
    else
      say "$name: config changed but the reload failed; see $log"
    fi
  fi
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Installs Debian packages that are missing; needs root (or tells the user exactly what to run).
ensure_apt() {
  local missing=() p
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing Debian packages: ${missing[*]} — install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  (
    # apt holds a lock; stack.sh and test.sh may both get here.
    flock 9
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  ) 9>"${SLUICE_CACHE}/apt.lock" >&2 || die "apt-get install ${missing[*]} failed"
}

java_major() {
  java -version 2>&1 | sed -n 's/.* version "\([0-9]*\)[."].*/\1/p' | head -n1
}

# Java 17+ with javac (Kafka 4 needs 17; the OpenSearch launcher is compiled on the machine) and Maven.
ensure_java() {
  if ! command -v javac >/dev/null || [ "$(java_major 2>/dev/null || echo 0)" -lt 17 ] 2>/dev/null; then
    ensure_apt openjdk-17-jdk-headless
  fi
  local major; major="$(java_major)"
  [ "${major:-0}" -ge 17 ] || die "Java 17+ is required (found: $(java -version 2>&1 | head -n1)); install openjdk-17-jdk-headless"
  command -v mvn >/dev/null || ensure_apt maven
}

# Maven's local repository has no cross-process locking in 3.8: fetches run one at a time.
mvn_copy_deps() {
  local pom="$1" lib="$2" tmp
  [ -f "$lib/.complete" ] && return 0
  tmp="$lib.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp" "$(dirname "$lib")"
  say "collecting $(basename "$(dirname "$pom")") jars from Maven Central into $lib"
  (
    flock 9
    mvn -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime
  ) 9>"${SLUICE_CACHE}/mvn.lock" >"$lib.mvn.log" 2>&1 || {
    tail -n 30 "$lib.mvn.log" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed for $pom; full log: $lib.mvn.log"
  }
  rm -rf "$lib"; mv "$tmp" "$lib"; touch "$lib/.complete"
}
