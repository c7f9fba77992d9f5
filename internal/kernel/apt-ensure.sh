#!/usr/bin/env bash
# apt-ensure.sh PACKAGE...: installs the Debian/Ubuntu packages that are missing, and does nothing (fast, no
# network, no root needed) when all are installed. `apt-get update` runs first only when something is missing.
# Used by `make setup` / `make notebook` and the Dockerfiles. Needs root or sudo when it has to install.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 PACKAGE..." >&2
  exit 2
fi
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-ensure: not a Debian/Ubuntu system (no dpkg-query/apt-get); install the equivalent of: $*" >&2
  echo "apt-ensure: (for Jupyter: pip install nbconvert nbclient jupyter_client ipykernel)" >&2
  exit 1
fi

missing=()
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("${p}")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "apt-ensure: already installed: $*"
  exit 0
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "apt-ensure: missing packages ${missing[*]}, and not root and no sudo: install them, then rerun." >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "apt-ensure: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
