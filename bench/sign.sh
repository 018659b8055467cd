#!/usr/bin/env bash
# Model signing: palisade vs model_signing (sigstore/model-transparency) on the same 4 GB model
# directory, same run; `cat > /dev/null` of the same files as the floor. See bench/sign.py.
#
#   bench/sign.sh            (RUNS=3 by default; SIZE_GB=4)
#
# Installs model-signing into bench/.venv-sign on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv-sign
if [ ! -x "$VENV/bin/model_signing" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'model-signing==1.1.1' pyopenssl
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
cargo build --release --quiet -p palisade
python3 bench/sign.py --model-signing "$VENV/bin/model_signing" "$@"
