# shellcheck shell=bash
# Sourced: installs the npm workspace's dependencies when node_modules is missing or older than a manifest.
# Expects Node 24 on PATH (scripts/sluice.sh) and the repository root as the working directory.
deps_current() {
  # npm records the installed tree in node_modules/.package-lock.json; newer than every manifest = up to date.
  local stamp=node_modules/.package-lock.json f
  [ -f "$stamp" ] && [ -f package-lock.json ] || return 1
  for f in package-lock.json package.json */package.json; do
    [ ! -f "$f" ] || [ "$stamp" -nt "$f" ] || return 1
  done
}

ensure_npm_deps() {
  # The console's electron package would download its binary from GitHub, which these machines cannot reach;
  # the renderer is built with Vite and tested in Chromium, and the app is packaged where Electron is available.
  export ELECTRON_SKIP_BINARY_DOWNLOAD=1
  if deps_current; then
    say "node_modules is up to date with package-lock.json"
  elif [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --prefer-offline
  else
    npm install --no-audit --no-fund
  fi
}

ensure_lake_python() {
  # The compaction tests and `npm run bench:lake` read Parquet back with pyarrow, a reader nobody here wrote
  # (control-plane/src/lake/compaction/lake-python.ts looks for this venv; SLUICE_LAKE_PYTHON overrides it).
  local venv=.stack/lake-py
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
    say "pyarrow is installed in $venv"
    return
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow
}
