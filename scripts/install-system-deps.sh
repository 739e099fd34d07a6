#!/usr/bin/env bash
# Debian packages bt-ps uses beside Node: Mesa's lavapipe Vulkan driver from bookworm-backports (Mesa 25; the
# bookworm one is too old for Dawn) so the webgpu backend runs without a GPU; aria2, libtorrent's Python binding and
# transmission-cli for the BitTorrent interoperability test and opentracker for the test that uses it as the
# tracker; prometheus for the metrics test, chromium for the dashboard test and zsh to check the zsh completion
# script. Idempotent; needs root.
# Skips what is already installed.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "install-system-deps: run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
need=()
command -v aria2c >/dev/null || need+=(aria2)
command -v transmission-cli >/dev/null || need+=(transmission-cli)
command -v opentracker >/dev/null || need+=(opentracker)
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || need+=(python3-libtorrent)
command -v prometheus >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
command -v zsh >/dev/null || need+=(zsh)
dpkg -s libvulkan1 >/dev/null 2>&1 || need+=(libvulkan1)
mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa" in 2[5-9].*|[3-9][0-9].*) ;; *) need+=(mesa) ;; esac
if [ ${#need[@]} -eq 0 ]; then echo "install-system-deps: all present"; exit 0; fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
for pkg in "${need[@]}"; do
  case "$pkg" in
    mesa)
      if [ "${VERSION_CODENAME:-}" = bookworm ]; then
        apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 >/dev/null
      else
        apt-get install -y -qq mesa-vulkan-drivers >/dev/null
      fi ;;
    # Only the binary is wanted: no service is started (there may be no init system).
    prometheus|chromium|zsh|transmission-cli|opentracker|python3-libtorrent) apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ;;
    *) apt-get install -y -qq "$pkg" >/dev/null ;;
  esac
done
echo "install-system-deps: installed ${need[*]}"
