# shellcheck shell=bash
# MinIO server built once from its Go module. The RELEASE.* tags are not valid Go module versions, so the
# pin is the pseudo-version of a master commit.

MINIO_MODULE_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN_DIR="$SLUICE_CACHE/minio/bin"
MINIO_DIR="$STACK_DIR/minio"
MINIO_LOG="$MINIO_DIR/minio.log"
GO_MIN_MINOR=24

minio_port() { port_of "$SLUICE_S3_ENDPOINT"; }
minio_log() { echo "$MINIO_LOG"; }
minio_pid() { live_pid "$MINIO_DIR/minio.pid"; }

minio_ensure() {
  [ -x "$MINIO_BIN_DIR/minio" ] && return 0
  command -v go >/dev/null || die "minio: Go 1.$GO_MIN_MINOR+ is needed once to build the MinIO server (https://go.dev/dl); Debian 12's golang package is too old"
  local v; v="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  [ "${v:-0}" -ge "$GO_MIN_MINOR" ] || die "minio: Go 1.$GO_MIN_MINOR+ required, found $(go env GOVERSION 2>/dev/null || echo unknown)"
  mkdir -p "$MINIO_BIN_DIR"
  say "minio: building github.com/minio/minio@$MINIO_MODULE_VERSION (once; several minutes on 2 cores; log $SLUICE_CACHE/minio/build.log)"
  (
    flock 9
    [ -x "$MINIO_BIN_DIR/minio" ] && exit 0
    CGO_ENABLED=0 GOBIN="$MINIO_BIN_DIR" GOFLAGS=-trimpath go install "github.com/minio/minio@$MINIO_MODULE_VERSION"
  ) 9>"$SLUICE_CACHE/minio/build.lock" >"$SLUICE_CACHE/minio/build.log" 2>&1 \
    || die "minio: go install failed; see $SLUICE_CACHE/minio/build.log"
}

minio_start() {
  require_free_port minio "$(minio_port)"
  require_free_port minio-console "$SLUICE_S3_CONSOLE_PORT"
  mkdir -p "$MINIO_DIR/data"
  MINIO_ROOT_USER="$SLUICE_S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$SLUICE_S3_SECRET_KEY" MINIO_UPDATE=off \
    MINIO_BROWSER_REDIRECT=off \
    spawn "$MINIO_DIR/minio.pid" "$MINIO_LOG" "$MINIO_BIN_DIR/minio" server "$MINIO_DIR/data" \
    --address "$(hostport_of "$SLUICE_S3_ENDPOINT")" --console-address "127.0.0.1:$SLUICE_S3_CONSOLE_PORT" --quiet
}

minio_health() { curl -fsS -m 2 -o /dev/null "$SLUICE_S3_ENDPOINT/minio/health/live"; }

minio_stop_signal() { echo TERM; }
