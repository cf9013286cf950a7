#!/usr/bin/env bash
# Installs what building rsparallel, its tests, samples and benchmarks needs on Debian 12, as root.
# Installs nothing when everything is already there.
set -euo pipefail
packages=(g++ cmake make libboost-thread-dev libboost-program-options-dev libgtest-dev libgmock-dev
          libbenchmark-dev libtbb-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
