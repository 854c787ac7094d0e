# shellcheck shell=bash
# Prometheus from Debian. deploy/prometheus/prometheus.yml names the default local addresses; the copy under
# .stack/prometheus is rendered with the addresses from scripts/stack.env so that file stays the one source,
# and with absolute paths to the scrape credentials `npm start` keeps in .sluice/ (the viewer key for the
# control plane and the consumer, the agent's token); the consumer's port follows SLUICE_CONSUMER_METRICS_PORT. Prometheus reads a credentials file at every scrape, so it may start before they exist.

PROMETHEUS_BIN="${SLUICE_PROMETHEUS_BIN:-/usr/bin/prometheus}"
PROMETHEUS_DIR="$STACK_DIR/prometheus"
PROMETHEUS_LOG="$PROMETHEUS_DIR/prometheus.log"
SLUICE_RUN_DIR="${SLUICE_RUN_DIR:-$SLUICE_ROOT/.sluice}"

prometheus_port() { port_of "$SLUICE_PROMETHEUS_URL"; }
prometheus_log() { echo "$PROMETHEUS_LOG"; }
prometheus_pid() { live_pid "$PROMETHEUS_DIR/prometheus.pid"; }

prometheus_ensure() {
  if [ ! -x "$PROMETHEUS_BIN" ]; then
    ensure_apt prometheus
    # Debian starts its own prometheus on :9090 after install where systemd runs; the stack runs its own.
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  fi
  [ -x "$PROMETHEUS_BIN" ] || die "prometheus: $PROMETHEUS_BIN not found (set SLUICE_PROMETHEUS_BIN)"
}

prometheus_render_config() {
  local src="$SLUICE_ROOT/deploy/prometheus"
  mkdir -p "$PROMETHEUS_DIR/data"
  cp "$src/alerts.yml" "$PROMETHEUS_DIR/alerts.yml"
  sed -e "s#127\.0\.0\.1:8080#$(hostport_of "$SLUICE_CONTROL_PLANE_URL")#g" \
    -e "s#127\.0\.0\.1:8686#$(hostport_of "$SLUICE_AGENT_HTTP")#g" \
    -e "s#127\.0\.0\.1:9090#$(hostport_of "$SLUICE_PROMETHEUS_URL")#g" \
    -e "s#127\.0\.0\.1:9193#$(hostport_of "$SLUICE_ALERTMANAGER_URL")#g" \
    -e "s#127\.0\.0\.1:9464#127.0.0.1:${SLUICE_CONSUMER_METRICS_PORT:-9464}#g" \
    -e "s#credentials_file: \.\./\.\./\.sluice/#credentials_file: $SLUICE_RUN_DIR/#g" \
    "$src/prometheus.yml" >"$PROMETHEUS_DIR/prometheus.yml"
}

# `up` with Prometheus already running: render again and, when the config changed, have it reload (the
# lifecycle API is on), so a running stack picks up a new scrape config without a restart.
prometheus_refresh() {
  rerender_and_reload prometheus "$PROMETHEUS_DIR/prometheus.yml" prometheus_render_config "$SLUICE_PROMETHEUS_URL" "$PROMETHEUS_LOG" "$(prometheus_pid)"
}

prometheus_start() {
  require_free_port prometheus "$(prometheus_port)"
  prometheus_render_config
  spawn "$PROMETHEUS_DIR/prometheus.pid" "$PROMETHEUS_LOG" "$PROMETHEUS_BIN" \
    --config.file="$PROMETHEUS_DIR/prometheus.yml" --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="$(hostport_of "$SLUICE_PROMETHEUS_URL")" \
    --web.enable-lifecycle
}

prometheus_health() { curl -fsS -m 2 -o /dev/null "$SLUICE_PROMETHEUS_URL/-/ready"; }

prometheus_stop_signal() { echo TERM; }
