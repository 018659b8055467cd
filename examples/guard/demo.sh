#!/usr/bin/env bash
# palisade guard, end to end: the scikit-learn digits model behind Flask, the guard in front.
# Replays clean traffic, FGSM adversarial traffic and one tenant's flood, swaps in a poisoned
# model, and prints what the guard did. Exits non-zero if the adversarial inputs were not
# flagged, the other tenant was not protected, or the swapped model was not caught.
#
#   examples/guard/demo.sh
#
# Needs python3 (Flask, scikit-learn and numpy are installed into examples/guard/.venv on
# first use) and cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

venv="${GUARD_DEMO_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import flask, sklearn' 2>/dev/null; then
  echo "demo: installing Flask and scikit-learn into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check flask scikit-learn numpy
fi
py="$venv/bin/python"
palisade="${PALISADE:-}"
if [ -z "$palisade" ]; then
  (cd "$repo" && cargo build --quiet --release --bin palisade)
  palisade="${CARGO_TARGET_DIR:-$repo/target}/release/palisade"
fi

run="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL
  for _ in $(seq 1 150); do
    if "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "demo: $1 did not come up" >&2; return 1
}

model_port=$(free_port); guard_port=$(free_port); admin_port=$(free_port)
echo "== preparing the model's data, training profile and control set"
"$py" prepare.py "$here/data"
"$palisade" guard profile --data data/train.csv --predictions data/predictions.csv --out data/digits.profile.json

sed -e "s/127.0.0.1:8080/127.0.0.1:$guard_port/" -e "s/127.0.0.1:9090/127.0.0.1:$admin_port/" \
    -e "s/127.0.0.1:8501/127.0.0.1:$model_port/" guard.toml > "$here/guard.run.toml"
"$palisade" guard check-config "$here/guard.run.toml"

echo "== starting the model server (Flask, port $model_port) and the guard (port $guard_port)"
"$py" server.py --port "$model_port" > "$run/model.log" 2>&1 & pids+=($!); model_pid=$!
wait_http "http://127.0.0.1:$model_port/health"
"$palisade" guard run --config "$here/guard.run.toml" > "$run/events.jsonl" 2> "$run/guard.log" & pids+=($!)
wait_http "http://127.0.0.1:$admin_port/healthz"

echo "== replaying traffic"
status=0
"$py" traffic.py --guard "http://127.0.0.1:$guard_port" --admin "http://127.0.0.1:$admin_port" --data data || status=1

echo "== swapping in a poisoned model (7s relabelled as 1s) behind the guard's back"
kill "$model_pid"; wait "$model_pid" 2>/dev/null || true
"$py" server.py --port "$model_port" --variant swapped > "$run/model2.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$model_port/health"
caught=""
for _ in $(seq 1 40); do
  if grep -q '"rule":"GRD011"' "$run/events.jsonl"; then caught=yes; break; fi
  sleep 0.25
done
if [ -n "$caught" ]; then
  grep -m1 '"rule":"GRD011"' "$run/events.jsonl" | "$py" -c 'import json,sys; e=json.load(sys.stdin); print("probe              digits ", e["rule"], e["name"] + ":", e["message"])'
else
  echo "FAIL: the control-set probe did not notice the swapped model"; status=1
fi

echo "== events the guard wrote (stdout, JSON lines), by rule and action"
"$py" - "$run/events.jsonl" <<'PY'
import collections, json, sys
counts = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    counts[(e["rule"], e["name"], e["action"], e.get("tenant", "-"))] += 1 + e.get("details", {}).get("suppressed", 0)
for (rule, name, action, tenant), n in sorted(counts.items()):
    print(f"  {rule} {name:30} {action:9} tenant {tenant:8} {n}")
PY
echo "== metrics: http://127.0.0.1:$admin_port/metrics (Prometheus text; alert rules and a Grafana dashboard in deploy/guard/)"
curl -s "http://127.0.0.1:$admin_port/metrics" 2>/dev/null | grep -E '^palisade_guard_(requests_total|rejections_total|probe_|drift_)' | sort | head -24 || true
if [ "$status" = 0 ]; then echo "demo: PASS"; else echo "demo: FAIL (guard log follows)"; tail -20 "$run/guard.log"; grep -v "GRD00[267]" "$run/events.jsonl" | tail -5; fi
exit "$status"
