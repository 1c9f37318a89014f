#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of redis-raft from
# Debian's archive. Idempotent: does nothing when everything is present.
# Must run as root on Debian bookworm (it enables bookworm-backports for
# libraft-dev 0.22.1; bookworm's own 0.15 has Raft safety bugs).
set -euo pipefail

PKGS=(build-essential pkg-config cmake libuv1-dev liblz4-dev libhiredis-dev
      libjemalloc-dev libcmocka-dev redis-tools redis-server python3-redis
      python3-pytest procps iproute2 iptables faketime)
RAFT_MIN=0.22

have_all() {
    local p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || return 1
    done
    local v
    v=$(dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge "$RAFT_MIN" || return 1
}

if have_all; then
    echo "deps: everything is installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
    cat >"$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${PKGS[@]}"
apt-get install -y -q --no-install-recommends -t bookworm-backports libraft-dev
# redis-server's package starts a service; we only want the binary.
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
service redis-server stop >/dev/null 2>&1 || true
pkill -x redis-server >/dev/null 2>&1 || true
have_all || { echo "deps: installation incomplete" >&2; exit 1; }
echo "deps: installed"
