#!/usr/bin/env bash
# One entry point for the README's commands: runs everything on Node 24 whatever the machine ships.
#   start            stack up + control plane + consumer + local agent + console (scripts/start.sh)
#   test             install, stack up, check, unit + integration tests (scripts/test.sh)
#   stack ARGS       the native local stack (scripts/stack.sh)
#   exec CMD...      run CMD with Node 24 on PATH
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/node24.sh
source "$here/lib/node24.sh"
ensure_node24
cmd="${1:-}"; shift || true
case "$cmd" in
  start) exec bash "$here/start.sh" "$@" ;;
  test) exec bash "$here/test.sh" "$@" ;;
  stack) exec bash "$here/stack.sh" "$@" ;;
  exec) exec "$@" ;;
  *) echo "usage: sluice.sh start|test|stack ARGS|exec CMD..." >&2; exit 2 ;;
esac
