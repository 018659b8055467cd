#!/usr/bin/env bash
# `palisade reach` on a generated cluster (bench/gen_cluster.py: 200 namespaces × 25 workloads =
# 5,000 workloads, 2,000 NetworkPolicies): the full connectivity matrix and focused queries,
# wall time and peak RSS from GNU time, best of $RUNS runs each.
#
# netpol-analyzer (Go) is the one peer that computes this; it is not installable from the
# package registries this machine reaches, so it is not timed here.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
WORK=${WORK:-/tmp/palisade-bench-reach}
RUNS=${RUNS:-3}
mkdir -p "$WORK"
rm -rf "$WORK/cluster"
python3 bench/gen_cluster.py "$WORK/cluster" 200 25 2000
echo "cluster: $(ls "$WORK/cluster" | wc -l) files, $(cat "$WORK/cluster"/*.yaml | wc -c) bytes"
cargo build --release -q
P=target/release/palisade
best() {
  local name=$1; shift
  for i in $(seq "$RUNS"); do measure "$name" "$@"; done | sort -k3 | head -1
}
best full      $P reach "$WORK/cluster" --format connlist
echo "full matrix: $(wc -l <"$WORK/full.out") allowed connections"
best to-one    $P reach "$WORK/cluster" --to ns-042/model-server --format connlist
echo "to one model server: $(wc -l <"$WORK/to-one.out") connections"
best to-label  $P reach "$WORK/cluster" --to app=model-server --format connlist
echo "to app=model-server (200 workloads): $(wc -l <"$WORK/to-label.out") connections"
best explain   $P reach "$WORK/cluster" --to ns-042/model-server --explain
best scan      $P scan "$WORK/cluster" --ignore-errors -o /dev/null
# Where the time goes (PALISADE_TIMING prints load / build / query+render to stderr).
for q in "--to ns-042/model-server" "--to app=model-server" ""; do
  printf 'phases %-26s ' "${q:-full}"
  PALISADE_TIMING=1 $P reach "$WORK/cluster" $q --format connlist 2>&1 >/dev/null | tail -1
done
