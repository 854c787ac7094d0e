#!/usr/bin/env bash
# What `npm test` (and so .ci/run) runs; scripts/sluice.sh has already put Node 24 on PATH.
# Installs what is missing, brings the native stack up (and down again only if this run started it), runs
# typecheck + lint as one suite and both vitest projects, and ends with one line: "N passed, N failed".
set -euo pipefail
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPTS_DIR")"
SLUICE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sluice"
mkdir -p "$SLUICE_CACHE"
cd "$ROOT"
# shellcheck source=stack/lib.sh
source "$SCRIPTS_DIR/stack/lib.sh"
# shellcheck source=lib/deps.sh
source "$SCRIPTS_DIR/lib/deps.sh"

passed=0 failed=0
started="$(mktemp)"
report="$ROOT/.vitest-report.json"
t0=$SECONDS

finish() {
  local rc=$?
  if [ -s "$started" ]; then
    say "stopping what this run started: $(tr '\n' ' ' <"$started")"
    # shellcheck disable=SC2046 # one service name per line
    bash "$SCRIPTS_DIR/stack.sh" down $(cat "$started") || true
  fi
  rm -f "$started"
  # A step that died before the tests ran counts as one failed suite.
  if [ "$rc" != 0 ] && [ "$passed" = 0 ] && [ "$failed" = 0 ]; then failed=1; fi
  say "total $((SECONDS - t0))s"
  echo "$passed passed, $failed failed"
  if [ "$failed" != 0 ] || [ "$rc" != 0 ]; then exit 1; fi
}
trap finish EXIT

step() { printf '\n== %s\n' "$*" >&2; }

step "prerequisites (Debian packages, Java 17, Maven)"
# chromium drives the console's Playwright tests; shellcheck is part of `npm run check`; systemd brings
# systemd-analyze, which checks the agent package's units (dpkg-deb builds it); xvfb and x11-apps (xwd) give the
# console's real-window test a display and its screen capture; mosquitto-clients gives the mqtt source's tests
# a publisher nobody here wrote (mosquitto_pub); the rest is the stack's.
ensure_apt postgresql prometheus prometheus-alertmanager mosquitto mosquitto-clients kcat chromium curl shellcheck systemd xvfb x11-apps python3-venv
ensure_java

step "npm dependencies"
ensure_npm_deps
ensure_lake_python

step "local stack"
# Services that were already running (a developer's stack) stay up afterwards.
SLUICE_STACK_STARTED_FILE="$started" bash "$SCRIPTS_DIR/stack.sh" up

step "typecheck + lint"
if npm run check:here; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

step "vitest (unit + integration)"
# Warnings and errors only, so a failure is not buried under info lines; SLUICE_LOG_LEVEL=info shows all.
export SLUICE_LOG_LEVEL="${SLUICE_LOG_LEVEL:-warn}"
rm -f "$report"
vitest_rc=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" || vitest_rc=$?
if [ -f "$report" ]; then
  read -r p f < <(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.numPassedTests, r.numFailedTests)' "$report")
  passed=$((passed + p)); failed=$((failed + f))
  # A crashed file or failed hook fails the run even when no test is counted as failed.
  if [ "$vitest_rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
else
  say "vitest wrote no report (exit $vitest_rc)"
  failed=$((failed + 1))
fi
