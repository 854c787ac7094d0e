# shellcheck shell=bash
# Alertmanager from Debian (prometheus-alertmanager), on SLUICE_ALERTMANAGER_URL (127.0.0.1:9193: Debian's
# default 9093 is the Kafka controller's port here), one instance, clustering off. deploy/alertmanager/
# alertmanager.yml is the one source; the copy under .stack/alertmanager gets the control plane's address from
# scripts/stack.env and the absolute path of the viewer key `npm start` keeps in .sluice/ (the default webhook
# is the control plane's POST /api/v1/alerts/webhook). SLUICE_ALERT_WEBHOOK_URL routes every alert to that URL
# instead, without the control plane's key. The stack's Prometheus sends its alerts here (prometheus.yml).

ALERTMANAGER_BIN="${SLUICE_ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}"
ALERTMANAGER_DIR="$STACK_DIR/alertmanager"
ALERTMANAGER_LOG="$ALERTMANAGER_DIR/alertmanager.log"
SLUICE_RUN_DIR="${SLUICE_RUN_DIR:-$SLUICE_ROOT/.sluice}"

alertmanager_port() { port_of "$SLUICE_ALERTMANAGER_URL"; }
alertmanager_log() { echo "$ALERTMANAGER_LOG"; }
alertmanager_pid() { live_pid "$ALERTMANAGER_DIR/alertmanager.pid"; }

alertmanager_ensure() {
  if [ ! -x "$ALERTMANAGER_BIN" ]; then
    ensure_apt prometheus-alertmanager
    # Where systemd runs, Debian starts its own alertmanager on :9093 (Kafka's controller port here).
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true; fi
  fi
  [ -x "$ALERTMANAGER_BIN" ] || die "alertmanager: $ALERTMANAGER_BIN not found (set SLUICE_ALERTMANAGER_BIN)"
}

alertmanager_render_config() {
  local src="$SLUICE_ROOT/deploy/alertmanager/alertmanager.yml" out="$ALERTMANAGER_DIR/alertmanager.yml"
  mkdir -p "$ALERTMANAGER_DIR/data"
  if [ -n "${SLUICE_ALERT_WEBHOOK_URL:-}" ]; then
    # Another receiver: its URL (quoted for YAML, escaped for sed), and the control plane's credential is not sent to it.
    local url="${SLUICE_ALERT_WEBHOOK_URL//\\/\\\\}"
    url="${url//&/\\&}"
    url="${url//#/\\#}"
    url="${url//\'/\'\'}"
    sed -e "s#url: http://127\.0\.0\.1:8080/api/v1/alerts/webhook#url: '${url}'#" \
      -e '/# control-plane credential/,/credentials_file:/d' "$src" >"$out"
  else
    sed -e "s#127\.0\.0\.1:8080#$(hostport_of "$SLUICE_CONTROL_PLANE_URL")#g" \
      -e "s#credentials_file: \.\./\.\./\.sluice/#credentials_file: $SLUICE_RUN_DIR/#g" "$src" >"$out"
  fi
}

# `up` with Alertmanager already running: render again and have it reload when the config changed.
alertmanager_refresh() {
  rerender_and_reload alertmanager "$ALERTMANAGER_DIR/alertmanager.yml" alertmanager_render_config "$SLUICE_ALERTMANAGER_URL" "$ALERTMANAGER_LOG" "$(alertmanager_pid)"
}

alertmanager_start() {
  require_free_port alertmanager "$(alertmanager_port)"
  alertmanager_render_config
  # --cluster.listen-address= (empty) turns the gossip cluster off: one local instance, no port 9094.
  spawn "$ALERTMANAGER_DIR/alertmanager.pid" "$ALERTMANAGER_LOG" "$ALERTMANAGER_BIN" \
    --config.file="$ALERTMANAGER_DIR/alertmanager.yml" --storage.path="$ALERTMANAGER_DIR/data" \
    --web.listen-address="$(hostport_of "$SLUICE_ALERTMANAGER_URL")" --cluster.listen-address= \
    --web.external-url="$SLUICE_ALERTMANAGER_URL"
}

alertmanager_health() { curl -fsS -m 2 -o /dev/null "$SLUICE_ALERTMANAGER_URL/-/ready"; }

alertmanager_stop_signal() { echo TERM; }
