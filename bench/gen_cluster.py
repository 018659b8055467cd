#!/usr/bin/env python3
"""A generated cluster for `palisade reach`: N namespaces × W workloads with P policies.

Each namespace holds one model server (`app=model-server`, a Triton pod with named ports), a
frontend, and other services; its policies are a default deny, an ingress rule for the model
server from the frontend (named port), cross-namespace rules by namespace label and pod label,
an ipBlock rule, an egress rule with an endPort range, and DNS egress. Seeded: every run is the
same cluster.

usage: gen_cluster.py OUT_DIR [namespaces=200] [workloads_per_ns=25] [policies=2000]
"""
import os
import random
import sys

out = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
W = int(sys.argv[3]) if len(sys.argv) > 3 else 25
P = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
rnd = random.Random(7)
os.makedirs(out, exist_ok=True)
per_ns = P // N
teams = ["red", "blue", "green", "gold"]


def deployment(ns, name, labels, ports):
    lab = ", ".join(f"{k}: {v}" for k, v in labels.items())
    port_yaml = "".join(
        f"\n        - {{name: {pn}, containerPort: {pp}}}" for pn, pp in ports
    )
    image = "nvcr.io/nvidia/tritonserver:24.01-py3" if labels["app"] == "model-server" else "acme/app:1.0"
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {labels['app']}}}}}
  template:
    metadata: {{labels: {{{lab}}}}}
    spec:
      containers:
      - name: main
        image: {image}
        ports:{port_yaml or ' []'}
"""


def policy(ns, name, body):
    return f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {ns}}}
spec:
{body}"""


for i in range(N):
    ns = f"ns-{i:03d}"
    team = teams[i % len(teams)]
    docs = [f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{team: {team}, tier: t{i % 10}}}}}\n"]
    docs.append(deployment(ns, "model-server", {"app": "model-server", "tier": "ml"}, [("http", 8000), ("grpc", 8001), ("metrics", 8002)]))
    docs.append(deployment(ns, "frontend", {"app": "frontend", "tier": "web"}, [("http", 3000)]))
    for w in range(W - 2):
        tier = rnd.choice(["web", "api", "batch", "data"])
        docs.append(deployment(ns, f"svc-{w:02d}", {"app": f"svc-{w:02d}", "tier": tier}, [("http", 8080 + w % 5)]))
    pols = [
        policy(ns, "default-deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"),
        policy(ns, "model-from-frontend", "  podSelector: {matchLabels: {app: model-server}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: frontend}}\n    ports: [{port: http}, {port: grpc}]\n"),
        policy(ns, "dns", "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n"),
    ]
    k = 0
    while len(pols) < per_ns:
        kind = k % 4
        tier = rnd.choice(["web", "api", "batch", "data"])
        other = rnd.choice(teams)
        if kind == 0:
            body = f"  podSelector: {{matchLabels: {{tier: {tier}}}}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{team: {other}}}}}\n      podSelector: {{matchExpressions: [{{key: tier, operator: In, values: [web, api]}}]}}\n    ports: [{{port: 8080, endPort: 8084}}]\n"
        elif kind == 1:
            body = f"  podSelector: {{matchLabels: {{tier: {tier}}}}}\n  egress:\n  - to:\n    - podSelector: {{matchLabels: {{tier: data}}}}\n    ports: [{{port: http}}]\n"
        elif kind == 2:
            body = f"  podSelector: {{matchLabels: {{app: frontend}}}}\n  ingress:\n  - from:\n    - ipBlock: {{cidr: 0.0.0.0/0, except: [10.{i % 256}.0.0/16]}}\n    ports: [{{port: 3000}}]\n  egress:\n  - to:\n    - podSelector: {{matchLabels: {{app: model-server}}}}\n"
        else:
            body = f"  podSelector: {{matchLabels: {{tier: data}}}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchExpressions: [{{key: tier, operator: NotIn, values: [t{rnd.randrange(10)}]}}]}}\n      podSelector: {{matchLabels: {{tier: {tier}}}}}\n"
        pols.append(policy(ns, f"p-{k:02d}", body))
        k += 1
    with open(os.path.join(out, f"{ns}.yaml"), "w") as f:
        f.write("".join(docs + pols))
