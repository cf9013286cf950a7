#!/usr/bin/env bash
# Installs what building rsparallel, its tests, samples, benchmarks and API reference (doxygen)
# needs on Debian 12, as root, and clang (the build that checks the library's lock annotations).
# The library alone needs only g++, cmake, make, libboost-thread-dev and
# libboost-serialization-dev; without the others, configuring turns tests, samples and
# benchmarks off. Installs nothing when everything is already there.
set -euo pipefail
packages=(g++ cmake make libboost-thread-dev libboost-serialization-dev
          libboost-program-options-dev libgtest-dev libgmock-dev
          libbenchmark-dev libtbb-dev doxygen clang)
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
