#!/usr/bin/env python3
"""Generate a benchmark corpus: FILES files of WORKLOADS_PER_FILE workloads each, mixed kinds
(core controllers and ML custom resources), a Service and a NetworkPolicy per file, half of the
workloads hardened and half not. Deterministic for a given seed."""
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "corpus"
files = int(sys.argv[2]) if len(sys.argv) > 2 else 500
per_file = int(sys.argv[3]) if len(sys.argv) > 3 else 10
rng = random.Random(42)

CONTAINER_BAD = """      - name: server
        image: acme/model-{i}:latest
        ports: [{{containerPort: 8080}}]
        env:
        - {{name: HF_TOKEN, value: hf_abcdefghijklmnopqrstuvwxyz{i:010d}}}
        securityContext: {{privileged: true}}
"""
CONTAINER_GOOD = """      - name: server
        image: ghcr.io/acme/model-{i}:1.0.{i}@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270
        ports: [{{containerPort: 8080}}]
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi, ephemeral-storage: 64Mi}}
          limits: {{cpu: "1", memory: 512Mi, ephemeral-storage: 256Mi}}
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
        livenessProbe: {{httpGet: {{path: /live, port: 8080}}}}
"""
POD_SECURITY = """      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
"""


def pod_spec(i, good, indent):
    body = (POD_SECURITY if good else "") + "      containers:\n" + (CONTAINER_GOOD if good else CONTAINER_BAD).format(i=i)
    if not good:
        body += "      volumes:\n      - name: models\n        hostPath: {path: /mnt/models}\n"
    pad = " " * (indent - 6)
    return "".join(pad + line + "\n" if line else "\n" for line in body.rstrip("\n").split("\n"))


def workload(kind, i, ns, good):
    name = f"model-{i}"
    meta = f"metadata:\n  name: {name}\n  namespace: {ns}\n"
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return (f"apiVersion: apps/v1\nkind: {kind}\n{meta}spec:\n  selector: {{matchLabels: {{app: {name}}}}}\n"
                f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n{pod_spec(i, good, 6)}")
    if kind == "Job":
        return f"apiVersion: batch/v1\nkind: Job\n{meta}spec:\n  template:\n    spec:\n{pod_spec(i, good, 6)}"
    if kind == "CronJob":
        return (f"apiVersion: batch/v1\nkind: CronJob\n{meta}spec:\n  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n"
                f"      template:\n        spec:\n{pod_spec(i, good, 10)}")
    if kind == "Pod":
        return f"apiVersion: v1\nkind: Pod\n{meta}  labels: {{app: {name}}}\nspec:\n{pod_spec(i, good, 2)}"
    if kind == "InferenceService":
        return f"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n{meta}spec:\n  predictor:\n{pod_spec(i, good, 4)}"
    if kind == "RayCluster":
        return (f"apiVersion: ray.io/v1\nkind: RayCluster\n{meta}spec:\n  headGroupSpec:\n    template:\n      spec:\n{pod_spec(i, good, 8)}"
                f"  workerGroupSpecs:\n  - groupName: gpu\n    template:\n      spec:\n{pod_spec(i, good, 8)}")
    raise ValueError(kind)


KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "InferenceService", "RayCluster"]
os.makedirs(out, exist_ok=True)
n = 0
for f in range(files):
    ns = f"team-{f % 20}"
    docs = []
    for _ in range(per_file):
        kind = KINDS[n % len(KINDS)]
        docs.append(workload(kind, n, ns, good=rng.random() < 0.5))
        n += 1
    docs.append(f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{f}, namespace: {ns}}}\nspec:\n  type: {'LoadBalancer' if f % 3 == 0 else 'ClusterIP'}\n  ports: [{{port: 80}}]\n")
    docs.append(f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np-{f}, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{app: model-{n - 1}}}}}\n  policyTypes: [Ingress]\n")
    with open(os.path.join(out, f"app-{f:04d}.yaml"), "w") as fh:
        fh.write("---\n".join(docs))
print(f"{files} files, {n} workloads in {out}/")
