#!/usr/bin/env bash
# Installs the Debian packages the local environment needs, only when missing.
set -euo pipefail

# containerd, runc and containernetworking-plugins are also the real node's runtime and pod network.
packages=(docker.io containerd runc containernetworking-plugins docker-registry debootstrap git openssl shellcheck)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "debian packages: all present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "debian packages missing: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "debian packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
