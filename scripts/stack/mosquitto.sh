# shellcheck shell=bash
# Mosquitto (Debian `mosquitto`) for the mqtt source: one listener on SLUICE_MQTT_URL's host and port,
# persistence under .stack/mosquitto (persistent sessions and their queued messages survive a broker restart:
# it saves on SIGTERM and every 30 s), anonymous clients allowed (a development broker on loopback). With
# SLUICE_MQTT_PASSWORD_FILE (made with `mosquitto_passwd`), clients that give a user name are checked against it.

MOSQUITTO_BIN="${SLUICE_MOSQUITTO_BIN:-/usr/sbin/mosquitto}"
MOSQUITTO_DIR="$STACK_DIR/mosquitto"
MOSQUITTO_LOG="$MOSQUITTO_DIR/mosquitto.log"

mosquitto_port() { port_of "$SLUICE_MQTT_URL"; }
mosquitto_log() { echo "$MOSQUITTO_LOG"; }
mosquitto_pid() { live_pid "$MOSQUITTO_DIR/mosquitto.pid"; }

mosquitto_ensure() {
  # mosquitto-clients: mosquitto_pub is the producer the mqtt source's tests publish with.
  if [ ! -x "$MOSQUITTO_BIN" ] || ! command -v mosquitto_pub >/dev/null; then
    ensure_apt mosquitto mosquitto-clients
    # Debian starts its own mosquitto on :1883 after install where systemd runs; the stack runs its own.
    if [ -d /run/systemd/system ]; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
  fi
  [ -x "$MOSQUITTO_BIN" ] || die "mosquitto: $MOSQUITTO_BIN not found (set SLUICE_MOSQUITTO_BIN)"
}

mosquitto_render_config() {
  mkdir -p "$MOSQUITTO_DIR/data"
  {
    echo "# Rendered by scripts/stack/mosquitto.sh from scripts/stack.env; edits are overwritten."
    echo "listener $(mosquitto_port) $(host_of "$SLUICE_MQTT_URL")"
    echo "allow_anonymous true"
    if [ -n "${SLUICE_MQTT_PASSWORD_FILE:-}" ]; then echo "password_file $SLUICE_MQTT_PASSWORD_FILE"; fi
    echo "persistence true"
    echo "persistence_location $MOSQUITTO_DIR/data/"
    echo "autosave_interval 30"
    # The default (1000) would drop what is queued for an agent away longer; 0 would be unbounded.
    echo "max_queued_messages 1000000"
    echo "max_inflight_messages 1000"
    echo "persistent_client_expiration 14d"
    # Run as the user that started the stack (as root, mosquitto would switch to user mosquitto, who cannot
    # write the stack folder).
    echo "user $(id -un)"
    echo "log_dest stdout"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "connection_messages false"
  } >"$MOSQUITTO_DIR/mosquitto.conf"
}

mosquitto_start() {
  require_free_port mosquitto "$(mosquitto_port)"
  mosquitto_render_config
  spawn "$MOSQUITTO_DIR/mosquitto.pid" "$MOSQUITTO_LOG" "$MOSQUITTO_BIN" -c "$MOSQUITTO_DIR/mosquitto.conf"
}

mosquitto_health() { tcp_open "$(host_of "$SLUICE_MQTT_URL")" "$(mosquitto_port)"; }

# SIGTERM: mosquitto writes its persistence file (sessions, queued messages) before it exits.
mosquitto_stop_signal() { echo TERM; }
