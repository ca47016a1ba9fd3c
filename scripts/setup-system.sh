#!/usr/bin/env bash
# Installs what Dawn needs to find a WebGPU adapter on a Debian 12 machine without a GPU:
# the Vulkan loader and Mesa's lavapipe (>= 24, from bookworm-backports, since Mesa 22 is rejected by Dawn),
# Debian's chromium, which the browser tests drive (WebGPU on its SwiftShader adapter), and Debian's
# redis-server, which the queue tests start on a loopback port (BullMQ's store).
# The backports source line is derived from the mirror already configured on the machine.
# Quick (no apt at all) when all three are already installed.
set -euo pipefail

have_lavapipe() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 24 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}

have_chromium() { command -v chromium >/dev/null 2>&1; }

have_redis() { command -v redis-server >/dev/null 2>&1; }

if have_lavapipe && have_chromium && have_redis; then exit 0; fi

if [ "$(uname -s)" != "Linux" ] || [ ! -f /etc/debian_version ]; then
  echo "tesserae setup: not a Debian machine; install a Vulkan loader and a WebGPU-capable driver (e.g. Mesa lavapipe >= 24) yourself." >&2
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "tesserae setup: not root, so the Vulkan driver, chromium and redis-server cannot be installed. As root run: apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers; apt-get install chromium redis-server" >&2
  exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
backports="${codename}-backports"

mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
  echo "tesserae setup: could not find a Debian mirror in /etc/apt sources; add a ${backports} source and install libvulkan1 mesa-vulkan-drivers from it." >&2
  exit 1
fi

if ! grep -rqs "${backports}" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "tesserae setup: adding ${backports} from ${mirror}" >&2
  echo "deb ${mirror} ${backports} main" > /etc/apt/sources.list.d/tesserae-backports.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
if ! have_lavapipe; then apt-get install -y -qq -t "${backports}" libvulkan1 mesa-vulkan-drivers >&2; fi
if ! have_chromium; then apt-get install -y -qq chromium >&2; fi
if ! have_redis; then apt-get install -y -qq redis-server >&2; fi
