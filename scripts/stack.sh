#!/usr/bin/env bash
# The native local stack: real PostgreSQL, Kafka (KRaft), MinIO, OpenSearch, Prometheus, Mosquitto and Alertmanager on 127.0.0.1,
# data and logs under <repo>/.stack, downloads cached under ${XDG_CACHE_HOME:-~/.cache}/sluice.
#
#   up [--kafka-nodes 1|3] [SERVICE...]   start what is not running, wait until healthy (idempotent)
#   down [--kafka-nodes 3] [SERVICE...]   stop (SIGTERM, wait, SIGKILL); --kafka-nodes 3: only the 3-node cluster
#   status                                service, port, pid, health, RSS; non-zero exit if any is unhealthy
#   logs [SERVICE]                        follow a service's log (without SERVICE: list the log files)
#   reset                                 down + delete .stack
#   svc stop|start|kill SERVICE           one service (fault tests: stop a sink, start it again)
#   kafka-node stop|start|kill N          node N (1..3) of the 3-node Kafka cluster
#
# SERVICE is postgres, kafka, minio, opensearch, prometheus, mosquitto, alertmanager (or kafka3-N for a node of the 3-node cluster).
set -euo pipefail

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SLUICE_ROOT="$(dirname "$SCRIPTS_DIR")"
STACK_DIR="${SLUICE_STACK_DIR:-$SLUICE_ROOT/.stack}"
SLUICE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sluice"
mkdir -p "$SLUICE_CACHE"

# shellcheck source=stack/lib.sh
source "$SCRIPTS_DIR/stack/lib.sh"
# stack.env holds the defaults; variables already in the environment win.
feed_stack_env "$SCRIPTS_DIR/stack.env"
for f in postgres kafka minio opensearch prometheus mosquitto alertmanager; do
  # shellcheck source=/dev/null
  source "$SCRIPTS_DIR/stack/$f.sh"
done
# The Kafka health probe is a small Node script; Node 24 runs TypeScript directly.
# shellcheck source=lib/node24.sh
source "$SCRIPTS_DIR/lib/node24.sh"

CORE_SERVICES=(postgres kafka minio opensearch prometheus mosquitto alertmanager)
KAFKA3_SERVICES=(kafka3-1 kafka3-2 kafka3-3)
KAFKA3_MARKER="$STACK_DIR/kafka3/wanted"

# call OP SERVICE: dispatches to the service file's function (kafka nodes take their node number).
call() {
  local op="$1" svc="$2"
  case "$svc" in
    kafka) "kafka_$op" 0 ;;
    kafka3-[123]) "kafka_$op" "${svc#kafka3-}" ;;
    postgres | minio | opensearch | prometheus | mosquitto | alertmanager) "${svc}_$op" ;;
    *) die "unknown service '$svc' (postgres, kafka, minio, opensearch, prometheus, mosquitto, alertmanager, kafka3-1..3)" ;;
  esac
}
has_fn() { declare -F "$1" >/dev/null; }
svc_family() { case "$1" in kafka*) echo kafka ;; *) echo "$1" ;; esac; }

startup_timeout() {
  case "$1" in
    opensearch) echo 240 ;;
    kafka*) echo 150 ;;
    *) echo 90 ;;
  esac
}

# up_one SERVICE: runs in a background job per service so the slow JVM starts overlap.
up_one() {
  local svc="$1" fam pid log t0=$SECONDS
  fam="$(svc_family "$svc")"
  log="$(call log "$svc")"
  if call health "$svc" >/dev/null 2>&1; then
    pid="$(call pid "$svc")"
    if [ -n "$pid" ]; then
      say "$svc: already running (pid $pid, port $(call port "$svc"))"
      if has_fn "${fam}_refresh"; then "${fam}_refresh"; fi
    else
      say "$svc: port $(call port "$svc") already answers, but not from a process of $STACK_DIR ($(port_owner "$(call port "$svc")")); using it"
    fi
    return 0
  fi
  pid="$(call pid "$svc")"
  if [ -z "$pid" ]; then
    "${fam}_ensure"
    call start "$svc"
    # test.sh stops afterwards only what its own `up` started.
    if [ -n "${SLUICE_STACK_STARTED_FILE:-}" ]; then echo "$svc" >>"$SLUICE_STACK_STARTED_FILE"; fi
  else
    say "$svc: pid $pid is running but not healthy yet; waiting"
  fi
  wait_healthy "$svc" "$(startup_timeout "$svc")" "pid_of_$fam" "probe_$fam" "$log" || return 1
  if has_fn "${fam}_after_start"; then "${fam}_after_start"; fi
  call health "$svc" >/dev/null 2>&1 || { say "$svc: started but its health check fails; see $log"; return 1; }
  say "$svc: healthy on port $(call port "$svc") (pid $(call pid "$svc"), $((SECONDS - t0))s)"
}

# wait_healthy wants plain function names; these bind the current service (set by up_one's caller).
pid_of_postgres() { postgres_pid; }
pid_of_minio() { minio_pid; }
pid_of_opensearch() { opensearch_pid; }
pid_of_prometheus() { prometheus_pid; }
pid_of_mosquitto() { mosquitto_pid; }
pid_of_alertmanager() { alertmanager_pid; }
pid_of_kafka() { kafka_pid "$CURRENT_KAFKA_NODE"; }
probe_postgres() { pg_ready; }
probe_minio() { minio_health; }
probe_opensearch() { opensearch_health; }
probe_prometheus() { prometheus_health; }
probe_mosquitto() { mosquitto_health; }
probe_alertmanager() { alertmanager_health; }
probe_kafka() { kafka_health "$CURRENT_KAFKA_NODE"; }

kafka_node_of() { case "$1" in kafka) echo 0 ;; kafka3-*) echo "${1#kafka3-}" ;; *) echo "" ;; esac; }

# Runs up_one for each service in parallel; reports every failure with its log before exiting non-zero.
up_many() {
  local svc pids=() names=() failed=() i
  ensure_node24 >/dev/null
  # ps/pgrep (procps), ss (iproute2) and curl drive the health checks; slim images lack them.
  ensure_apt curl procps iproute2
  mkdir -p "$STACK_DIR"
  for svc in "$@"; do
    (
      CURRENT_KAFKA_NODE="$(kafka_node_of "$svc")"
      up_one "$svc"
    ) &
    pids+=("$!"); names+=("$svc")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  if ((${#failed[@]})); then
    for svc in "${failed[@]}"; do say "FAILED: $svc — log: $(call log "$svc")"; done
    return 1
  fi
}

stop_one() {
  local svc="$1" sig="${2:-}" pid
  pid="$(call pid "$svc")"
  if [ -z "$pid" ]; then say "$svc: not running"; return 0; fi
  [ -n "$sig" ] || sig="$(call stop_signal "$svc")"
  say "$svc: stopping pid $pid (SIG$sig)"
  if [ "$sig" = KILL ]; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  else
    stop_pid "$pid" "$sig" 45
  fi
}

kafka3_running() {
  local s; for s in "${KAFKA3_SERVICES[@]}"; do [ -z "$(call pid "$s")" ] || echo "$s"; done
}

down_many() {
  local svc pids=()
  for svc in "$@"; do
    stop_one "$svc" & pids+=("$!")
  done
  local p; for p in "${pids[@]}"; do wait "$p" || true; done
}

status() {
  local svc pid health port rss total=0 bad=0 list=("${CORE_SERVICES[@]}")
  ensure_node24 >/dev/null
  [ -f "$KAFKA3_MARKER" ] && list+=("${KAFKA3_SERVICES[@]}")
  printf '%-12s %-7s %-8s %-10s %8s  %s\n' SERVICE PORT PID HEALTH RSS LOG
  for svc in "${list[@]}"; do
    port="$(call port "$svc")"
    pid="$(call pid "$svc")"
    if call health "$svc" >/dev/null 2>&1; then
      health=healthy
      # Something else answers on the port (another checkout's stack, a system service).
      [ -n "$pid" ] || health=external
    elif [ -n "$pid" ]; then
      health=unhealthy; bad=1
    else
      health=stopped; bad=1
    fi
    rss=0; [ -n "$pid" ] && rss="$(session_rss_kib "$pid")"
    total=$((total + rss))
    printf '%-12s %-7s %-8s %-10s %6dMi  %s\n' "$svc" "$port" "${pid:--}" "$health" $((rss / 1024)) "$(call log "$svc")"
  done
  printf '%-12s %-7s %-8s %-10s %6dMi\n' total '' '' '' $((total / 1024))
  return "$bad"
}

logs() {
  local svc="${1:-}"
  if [ -z "$svc" ]; then
    local s; for s in "${CORE_SERVICES[@]}" "${KAFKA3_SERVICES[@]}"; do printf '%-12s %s\n' "$s" "$(call log "$s")"; done
    return 0
  fi
  local log; log="$(call log "$svc")"
  [ -f "$log" ] || die "$svc has no log yet ($log)"
  exec tail -n 200 -F "$log"
}

main() {
  local cmd="${1:-}"; shift || true
  local nodes=1 args=()
  while (($#)); do
    case "$1" in
      --kafka-nodes) nodes="${2:?--kafka-nodes needs 1 or 3}"; shift 2 ;;
      --kafka-nodes=*) nodes="${1#*=}"; shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "--kafka-nodes must be 1 or 3"
  case "$cmd" in
    up)
      local t0=$SECONDS list=("${args[@]}")
      ((${#list[@]})) || list=("${CORE_SERVICES[@]}")
      [ "$nodes" = 1 ] || list+=("${KAFKA3_SERVICES[@]}")
      mapfile -t list < <(printf '%s\n' "${list[@]}" | awk '!seen[$0]++')
      # status reports the 3-node cluster (and fails when a node is down) from now until `down`.
      if printf '%s\n' "${list[@]}" | grep -q '^kafka3-'; then
        mkdir -p "$(dirname "$KAFKA3_MARKER")"; touch "$KAFKA3_MARKER"
      fi
      up_many "${list[@]}" || die "stack up failed (see the logs named above)"
      say "up in $((SECONDS - t0))s"
      ;;
    down)
      if [ "$nodes" = 3 ]; then
        down_many "${KAFKA3_SERVICES[@]}"; rm -f "$KAFKA3_MARKER"
      elif ((${#args[@]})); then
        down_many "${args[@]}"
      else
        # shellcheck disable=SC2046 # one service name per line
        down_many "${CORE_SERVICES[@]}" $(kafka3_running); rm -f "$KAFKA3_MARKER"
      fi
      ;;
    status) status ;;
    logs) logs "${args[0]:-}" ;;
    reset)
      # shellcheck disable=SC2046 # one service name per line
      down_many "${CORE_SERVICES[@]}" $(kafka3_running)
      say "deleting $STACK_DIR"
      rm -rf "$STACK_DIR"
      ;;
    svc | kafka-node)
      local action="${args[0]:-}" target="${args[1]:-}"
      [ -n "$target" ] || die "usage: stack.sh svc stop|start|kill SERVICE, or stack.sh kafka-node stop|start|kill N"
      [ "$cmd" = kafka-node ] && target="kafka3-$target"
      call port "$target" >/dev/null
      case "$action" in
        stop) stop_one "$target" ;;
        kill) stop_one "$target" KILL ;;
        start) up_many "$target" ;;
        *) die "usage: stack.sh $cmd stop|start|kill NAME" ;;
      esac
      ;;
    *)
      sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
      exit 2
      ;;
  esac
}

main "$@"
