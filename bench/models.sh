#!/usr/bin/env bash
# Model scanning: palisade vs picklescan, modelscan, fickling and modelaudit in one run
# (detection and false positives on the committed corpus, corpus scan time, and with --big a
# 2 GB PyTorch checkpoint generated here). See bench/models.py.
#
#   bench/models.sh [--big]
#
# Installs the peers into bench/.venv-models (pip install picklescan modelscan fickling
# modelaudit) and, for --big, torch into bench/.venv-torch, on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=bench/.venv-models
if [ ! -x "$PEERS/bin/modelaudit" ]; then
  python3 -m venv "$PEERS"
  "$PEERS/bin/pip" install --quiet --disable-pip-version-check picklescan modelscan fickling modelaudit
fi
if [[ " $* " == *" --big "* ]] && [ -z "${ML_PYTHON:-}" ]; then
  if [ ! -x bench/.venv-torch/bin/python ]; then
    python3 -m venv bench/.venv-torch
    bench/.venv-torch/bin/pip install --quiet --disable-pip-version-check torch
  fi
  export ML_PYTHON=bench/.venv-torch/bin/python
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
cargo build --release --quiet -p palisade
python3 bench/models.py --peers "$PEERS/bin" "$@"
