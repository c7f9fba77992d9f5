#!/usr/bin/env bash
# install-xla-cpu.sh installs the XLA PJRT CPU plugin that mlkit's backend selection (and plain GoMLX with
# GOMLX_BACKEND=xla:cpu) loads, without GitHub access: it takes the plugin from PyPI's `xla-cpu-pjrt` wheel
# (published by the OpenXLA authors), checks the wheel's sha256, and extracts the one shared library into
# go-xla's default search folder, so no environment variable is needed:
#
#   ~/.local/lib/go-xla/pjrt_c_api_cpu_plugin.so          the plugin (PJRT C API v0.81, loads in go-xla v0.1.4)
#   ~/.local/lib/go-xla/pjrt_c_api_cpu_v0.83.3_plugin.so  a symlink to it: the file go-xla's auto-installer looks
#                                                         for, so plain GoMLX programs do not try to download
#
# Idempotent: a second run checks the installed library's sha256 and does nothing.
# Override the target folder with GOXLA_INSTALL_DIR, the Python with PYTHON.
set -euo pipefail

WHEEL_NAME="xla-cpu-pjrt"
WHEEL_VERSION="0.0.1"
WHEEL_FILE="xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl"
WHEEL_SHA256="55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc"
SO_IN_WHEEL="xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so"
SO_SHA256="88c3f28c5900f48ad4a82cab9e79bba9537809743395e341485f8794268820dc"
GOXLA_CPU_VERSION="v0.83.3" # go-xla v0.1.4's DefaultCPUVersion (internal/utils/utils.go).

DEST="${GOXLA_INSTALL_DIR:-${HOME}/.local/lib/go-xla}"
PLUGIN="${DEST}/pjrt_c_api_cpu_plugin.so"
MARKER="${DEST}/pjrt_c_api_cpu_${GOXLA_CPU_VERSION}_plugin.so"

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "install-xla-cpu: the ${WHEEL_NAME} wheel is for Linux x86-64 only; mlkit will use its pure-Go backend." >&2
  exit 0
fi

if [[ -f "${PLUGIN}" ]] && echo "${SO_SHA256}  ${PLUGIN}" | sha256sum --check --status; then
  ln -sfn pjrt_c_api_cpu_plugin.so "${MARKER}"
  echo "install-xla-cpu: XLA CPU plugin already installed at ${PLUGIN}"
  exit 0
fi

PYTHON="${PYTHON:-}"
if [[ -z "${PYTHON}" ]]; then
  for p in python3 /usr/bin/python3; do
    if "${p}" -m pip --version >/dev/null 2>&1; then PYTHON="${p}"; break; fi
  done
fi
if [[ -z "${PYTHON}" ]]; then
  echo "install-xla-cpu: no python3 with pip found (needed only to download the ${WHEEL_NAME} wheel from PyPI)." >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT
echo "install-xla-cpu: downloading ${WHEEL_NAME}==${WHEEL_VERSION} from PyPI (63 MB)..."
"${PYTHON}" -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_27_x86_64 --python-version 3 --implementation py \
  -d "${TMP}" "${WHEEL_NAME}==${WHEEL_VERSION}"
if [[ ! -f "${TMP}/${WHEEL_FILE}" ]]; then
  echo "install-xla-cpu: pip did not produce ${WHEEL_FILE}; got: $(ls "${TMP}")" >&2
  exit 1
fi
echo "${WHEEL_SHA256}  ${TMP}/${WHEEL_FILE}" | sha256sum --check --status || {
  echo "install-xla-cpu: sha256 mismatch for ${WHEEL_FILE}: refusing to install it." >&2
  exit 1
}
"${PYTHON}" - "${TMP}/${WHEEL_FILE}" "${SO_IN_WHEEL}" "${TMP}/plugin.so" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "${SO_SHA256}  ${TMP}/plugin.so" | sha256sum --check --status || {
  echo "install-xla-cpu: sha256 mismatch for the extracted ${SO_IN_WHEEL}." >&2
  exit 1
}
mkdir -p "${DEST}"
install -m 0755 "${TMP}/plugin.so" "${PLUGIN}.tmp"
mv -f "${PLUGIN}.tmp" "${PLUGIN}"
ln -sfn pjrt_c_api_cpu_plugin.so "${MARKER}"
echo "install-xla-cpu: installed ${PLUGIN}"
