#!/bin/bash
# setup.sh — gets a fresh clone on Debian 12 to a built compiler, and does
# nothing that is already done:
#   1. installs the Debian packages the build needs (only those missing);
#   2. runs autoreconf -fi in the source tree when configure is missing or
#      older than configure.ac / Makefile.am;
#   3. configures in build/ (out of tree) when build/Makefile is missing,
#      passing this script's arguments to configure;
#   4. make -j2 in build/.
# Usage: scripts/setup.sh [CONFIGURE-ARGS...]
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES="build-essential flex bison autoconf automake pkg-config
  libopenblas-dev check libclang-14-dev clang-14 llvm-14 zlib1g-dev graphviz
  python3-torch python3-numpy dataset-fashion-mnist"

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

install_packages() {
  if ! command -v dpkg >/dev/null 2>&1; then
    echo "setup: no dpkg here; install by hand: $PACKAGES" >&2
    return 0
  fi
  local missing=() p
  for p in $PACKAGES; do
    installed "$p" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: need root or sudo to install: ${missing[*]}" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q "${missing[@]}"
}

need_autoreconf() {
  [ ! -f configure ] || [ ! -f Makefile.in ] ||
    [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]
}

install_packages

if [ -f config.status ]; then
  echo "setup: the source tree was configured in place; builds go to build/." >&2
  echo "setup: run 'make distclean' here first." >&2
  exit 1
fi

if need_autoreconf; then
  echo "setup: autoreconf -fi"
  autoreconf -fi
fi

if [ ! -f build/Makefile ]; then
  echo "setup: configuring in build/"
  mkdir -p build
  (cd build && ../configure "$@")
fi

make -C build -j2
