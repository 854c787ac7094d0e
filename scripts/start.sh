#!/usr/bin/env bash
# What `npm start` runs (scripts/sluice.sh has put Node 24 on PATH): installs what is missing, brings the
# native stack up, then runs the control plane API, the consumer and a local fleet-managed agent in the
# foreground until Ctrl-C: the agent is enrolled on the first start, and policy `default`
# (deploy/policies/default.yaml) gives it the pipeline that watches ./drop and ./logs. The stack keeps running
# afterwards (`npm run stack -- down` stops it).
set -euo pipefail
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPTS_DIR")"
cd "$ROOT"
# shellcheck source=stack/lib.sh
source "$SCRIPTS_DIR/stack/lib.sh"
# shellcheck source=lib/deps.sh
source "$SCRIPTS_DIR/lib/deps.sh"
# The local stack's addresses and development credentials become the environment the control plane,
# consumer and agent read (they never read the file); variables already set win.
feed_stack_env "$SCRIPTS_DIR/stack.env"

# Secrets live here; scripts/stack/prometheus.sh points the stack's Prometheus at the same folder.
export SLUICE_RUN_DIR="${SLUICE_RUN_DIR:-$ROOT/.sluice}"
RUN_DIR="$SLUICE_RUN_DIR"
LOG_DIR="$RUN_DIR/logs"
mkdir -p "$LOG_DIR" "$ROOT/drop" "$ROOT/logs"

ensure_apt postgresql prometheus prometheus-alertmanager mosquitto curl
ensure_java
ensure_npm_deps
bash "$SCRIPTS_DIR/stack.sh" up

# Secrets are made once and kept in files only their owner can read (0600); they are never printed, so they
# do not end up in terminal scrollback or CI logs.
#   admin.key       bootstrap admin API key (SLUICE_ADMIN_KEY)
#   prometheus.key  viewer API key Prometheus scrapes the control plane with (SLUICE_METRICS_KEY)
#   agent.token     the local agent's http.token (SLUICE_AGENT_TOKEN); Prometheus scrapes the agent with it
#   console-login   the console's first login: user admin and its generated password (scripts/fleet-bootstrap.ts)
make_secret() {
  local file="$1" prefix="$2"
  if [ ! -s "$file" ]; then
    (umask 077 && node -e 'process.stdout.write(process.argv[1] + require("node:crypto").randomBytes(32).toString("base64url"))' "$prefix" >"$file")
  fi
  chmod 600 "$file"
}
KEY_FILE="$RUN_DIR/admin.key"
METRICS_KEY_FILE="$RUN_DIR/prometheus.key"
AGENT_TOKEN_FILE="$RUN_DIR/agent.token"
CONSOLE_LOGIN_FILE="$RUN_DIR/console-login"
make_secret "$KEY_FILE" slk_
make_secret "$METRICS_KEY_FILE" slk_
make_secret "$AGENT_TOKEN_FILE" sat_
export SLUICE_ADMIN_KEY SLUICE_METRICS_KEY SLUICE_AGENT_TOKEN
SLUICE_ADMIN_KEY="$(cat "$KEY_FILE")"
SLUICE_METRICS_KEY="$(cat "$METRICS_KEY_FILE")"
SLUICE_AGENT_TOKEN="$(cat "$AGENT_TOKEN_FILE")"

# curl with the key or token in FILE: it goes in through stdin (-K -), never onto a command line `ps` shows.
curl_with() {
  local file="$1"; shift
  printf 'header = "authorization: Bearer %s"\n' "$(cat "$file")" | curl -K - "$@"
}

pids=()
# shellcheck disable=SC2317 # reached through the trap below
stop_all() {
  trap - INT TERM EXIT
  if [ "${#pids[@]}" -gt 0 ]; then
    say "stopping control plane, consumer and agent (the stack keeps running)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

launch() {
  local name="$1"; shift
  "$@" >>"$LOG_DIR/$name.log" 2>&1 &
  pids+=("$!")
  say "$name: pid $!, log $LOG_DIR/$name.log"
}

# Every endpoint needs credentials, health checks included: FILE holds the key or token to send.
wait_http() {
  local name="$1" url="$2" file="$3" deadline=$((SECONDS + 90))
  until curl_with "$file" -fsS -o /dev/null "$url" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name did not answer $url within 90 s (log: $LOG_DIR/$name.log)"
    fi
    sleep 0.5
  done
}

CP_URL="$SLUICE_CONTROL_PLANE_URL"
# The operator console; the control plane serves this build at /console (docs/console.md).
node node_modules/vite/bin/vite.js build --config desktop/vite.config.ts --logLevel warn || die "building the console failed (npm run build:console)"
launch control-plane node control-plane/bin/sluice-control-plane.js serve
wait_http control-plane "$CP_URL/healthz" "$METRICS_KEY_FILE"

# The demo datasets the local agent ships to: every sink enabled, so a dropped file shows up as rows in
# PostgreSQL, documents in OpenSearch and an object in MinIO. Creating an existing dataset answers 409.
create_dataset() {
  local body="$1" code
  code="$(curl_with "$KEY_FILE" -sS -o "$RUN_DIR/dataset-response.json" -w '%{http_code}' -X POST "$CP_URL/api/v1/datasets" \
    -H 'content-type: application/json' --data "$body")"
  case "$code" in
    201 | 409) ;;
    *) die "creating a demo dataset failed ($code): $(cat "$RUN_DIR/dataset-response.json")" ;;
  esac
}
all_sinks='"sinks":{"postgres":{"enabled":true},"search":{"enabled":true},"objectStore":{"enabled":true,"partitionBy":"hour"}}'
create_dataset '{"name":"drops","description":"Files dropped into ./drop (CSV rows, NDJSON, JSON arrays, blobs)",'"$all_sinks"',"schema":{"type":"object"}}'
create_dataset '{"name":"app_logs","description":"Lines tailed from ./logs/*.log",'"$all_sinks"',"schema":{"type":"object","properties":{"message":{"type":"string"}}}}'

# The consumer serves its own /metrics and /healthz (the stack's Prometheus scrapes 127.0.0.1:9464).
export SLUICE_CONSUMER_METRICS_PORT="${SLUICE_CONSUMER_METRICS_PORT:-9464}"
CONSUMER_URL="http://127.0.0.1:$SLUICE_CONSUMER_METRICS_PORT"
launch consumer node control-plane/bin/sluice-control-plane.js consume
wait_http consumer "$CONSUMER_URL/healthz" "$METRICS_KEY_FILE"
# One lake-job worker (ingestion jobs, compaction; docs/lake.md); run more `worker` processes to scale out.
launch worker node control-plane/bin/sluice-control-plane.js worker
# The local agent is fleet-managed: policy `default` (every agent) gets the example's sources as its first
# revision, and the agent is enrolled once (its identity stays in .data/fleet-agent/fleet). Both steps leave
# what exists alone, so revisions an operator published since are kept. The enrollment token is one-use.
AGENT_CONFIG=agent/examples/fleet-agent.yaml
# The console's user `admin` is made once too, its password kept in $CONSOLE_LOGIN_FILE (0600, never printed).
node scripts/fleet-bootstrap.ts --url "$CP_URL" --config "$AGENT_CONFIG" --policy deploy/policies/default.yaml --name local-dev \
  --console-login "$CONSOLE_LOGIN_FILE" ||
  die "making the local agent fleet-managed failed (see above)"
launch agent node agent/bin/sluice-agent.js run --config "$AGENT_CONFIG"
wait_http agent "http://$SLUICE_AGENT_HTTP/healthz" "$AGENT_TOKEN_FILE"

cat <<EOF

Sluice is running.
  console             $CP_URL/console/
                      log in as admin; the password is in $CONSOLE_LOGIN_FILE   (cat $CONSOLE_LOGIN_FILE)
  drop files into     $ROOT/drop     (CSV, NDJSON, JSON arrays; anything else as a blob)
  append lines to     $ROOT/logs/*.log
  control plane API   $CP_URL/api/v1   (OpenAPI: $CP_URL/docs; /metrics, /healthz, /readyz)
  admin API key       in $KEY_FILE   (curl -H "authorization: Bearer \$(cat $KEY_FILE)" $CP_URL/api/v1/datasets)
  consumer            $CONSUMER_URL/metrics   /healthz   (same viewer key)
  viewer key          in $METRICS_KEY_FILE   (what Prometheus scrapes the control plane and the consumer with)
  agent               http://$SLUICE_AGENT_HTTP/status   /metrics   /healthz   (token in $AGENT_TOKEN_FILE)
  fleet               $CP_URL/api/v1/agents   /api/v1/policies/default/revisions   /api/v1/fleet/summary   (admin key)
                      walk-through: docs/fleet-quickstart.md
  PostgreSQL          $SLUICE_PG_URL   (tables in schema sluice_data)
  OpenSearch          $SLUICE_SEARCH_URL/_cat/indices?v
  MinIO console       http://127.0.0.1:$SLUICE_S3_CONSOLE_PORT   (bucket sluice; user $SLUICE_S3_ACCESS_KEY, password in scripts/stack.env)
  Prometheus          $SLUICE_PROMETHEUS_URL
  Alertmanager        $SLUICE_ALERTMANAGER_URL   (alerts go to ${SLUICE_ALERT_WEBHOOK_URL:-$CP_URL/api/v1/alerts/webhook, which logs them})
  MQTT broker         $SLUICE_MQTT_URL   (mosquitto, anonymous on loopback)
  logs                $LOG_DIR
Ctrl-C stops the control plane, consumer and agent; \`npm run stack -- down\` stops the stack.
EOF

# Any of the three exiting ends the session, so a crash is not hidden behind a running prompt.
wait -n "${pids[@]}" || true
say "a process exited; see $LOG_DIR"
exit 1
