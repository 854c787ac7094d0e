#!/usr/bin/env bash
# Builds the agent's gateway package: a .deb holding the bundled agent (one JS file plus better-sqlite3's
# binary), the Node 24 that built it (pinned: the gateway never uses its own node), the hardened systemd
# unit, the first-boot enroll unit and an example /etc/sluice-agent/agent.yaml.
#   scripts/package-agent.sh [--out DIR] [--compression xz|gzip|zstd|none]
# Writes DIR/sluice-agent_<version>_<arch>.deb (DIR: ./dist) and prints its path. xz makes the smallest
# package (~30 MB, 1.5 to 2.5 min on 2 cores); gzip is ~45 MB in seconds; zstd needs dpkg >= 1.21.18.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/node24.sh
source "$repo/scripts/lib/node24.sh"
ensure_node24

out="$repo/dist"
compression=xz
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --compression) compression="$2"; shift 2 ;;
    *) echo "usage: package-agent.sh [--out DIR] [--compression xz|gzip|zstd|none]" >&2; exit 2 ;;
  esac
done
case "$compression" in xz | gzip | zstd | none) ;; *) echo "package-agent.sh: --compression must be xz, gzip, zstd or none" >&2; exit 2 ;; esac

node_bin="$(readlink -f "$(command -v node)")"
version="$(node -p 'require(process.argv[1]).version' "$repo/agent/package.json")"
node_version="$(node -p 'process.versions.node')"
sqlite_version="$(node -p 'require(process.argv[1]).version' "$repo/node_modules/better-sqlite3/package.json")"
case "$(node -p 'process.arch')" in
  x64) arch=amd64 ;;
  arm64) arch=arm64 ;;
  *) echo "package-agent.sh: no Debian architecture for Node's $(node -p 'process.arch')" >&2; exit 1 ;;
esac

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
opt="$root/opt/sluice-agent"
deploy="$repo/deploy/agent"

node "$repo/agent/build/bundle.ts" --out "$opt/lib" >/dev/null
install -D -m 0755 "$node_bin" "$opt/node/bin/node"
node_home="$(dirname "$(dirname "$node_bin")")"
if [ -f "$node_home/LICENSE" ]; then install -m 0644 "$node_home/LICENSE" "$opt/node/LICENSE"; fi
install -D -m 0755 "$deploy/gateway/sluice-agent" "$opt/bin/sluice-agent"
cat >"$opt/build-info.json" <<EOF
{ "agent": "$version", "node": "$node_version", "arch": "$arch", "betterSqlite3": "$sqlite_version" }
EOF
mkdir -p "$root/usr/bin"
ln -s /opt/sluice-agent/bin/sluice-agent "$root/usr/bin/sluice-agent"
install -D -m 0644 "$deploy/gateway/agent.yaml" "$root/etc/sluice-agent/agent.yaml"
install -D -m 0644 -t "$root/lib/systemd/system" "$deploy/systemd/sluice-agent.service" "$deploy/systemd/sluice-agent-enroll.service"
install -D -m 0644 -t "$root/usr/share/doc/sluice-agent" "$repo/docs/install-gateway.md" "$deploy/gateway/enroll.env.example"
# Whatever umask and esbuild left: directories 0755, files 0644, the two executables 0755.
find "$root" -type d -exec chmod 0755 {} +
find "$opt/lib" -type f -exec chmod 0644 {} +

# The oldest glibc the shipped binaries accept (their highest GLIBC_x.y symbol version).
mapfile -t natives < <(find "$opt/lib" -name '*.node')
glibc="$(grep -ahoE 'GLIBC_2\.[0-9]+' "$opt/node/bin/node" "${natives[@]}" | sort -uV | tail -n1)"
install -d -m 0755 "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: sluice-agent
Version: $version
Architecture: $arch
Maintainer: Sluice <sluice@sluice.dev>
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= ${glibc#GLIBC_}), libstdc++6, passwd
Section: net
Priority: optional
Description: Sluice edge agent (bundled, on its own Node $node_version)
 Collects tailed files, drop folders and polled or pushed HTTP data on a gateway, keeps it in a durable
 local outbox and ships it to Kafka. Enrolls with a Sluice control plane, which hands it its pipeline.
 Runs as the sluice-agent user in a hardened systemd unit; state in /var/lib/sluice-agent.
EOF
install -m 0644 "$deploy/debian/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 -t "$root/DEBIAN" "$deploy/debian/postinst" "$deploy/debian/prerm" "$deploy/debian/postrm"

mkdir -p "$out"
deb="$out/sluice-agent_${version}_${arch}.deb"
# Level 6 for each: gzip -9 (the default) takes several times as long for a few per cent.
dpkg-deb --build --root-owner-group "-Z$compression" -z6 "$root" "$deb" >/dev/null
echo "$deb"
