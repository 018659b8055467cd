#!/usr/bin/env python3
"""Generate N Dockerfiles for the Dockerfile benchmark: ML serving and training images in the
shapes real projects use (multi-stage builds, ARG-substituted bases, heredocs, continuations,
CUDA devel/runtime, Jupyter, TorchServe, vLLM), each with a deterministic mix of the problems
the Dockerfile rules look for and of their correct counterparts.

    gen_dockerfiles.py OUT_DIR [N]      (default 200)
"""
import os
import random
import sys

BASES = [
    "python:3.11", "python:3.11-slim", "python:3.12-slim-bookworm", "ubuntu:22.04",
    "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
    "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-devel", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    "jupyter/scipy-notebook", "pytorch/torchserve:latest-gpu", "vllm/vllm-openai:v0.6.3",
    "nvcr.io/nvidia/tritonserver:24.05-py3",
    "python:3.11-slim@sha256:2b0079146a74e23bf4ae8f6a28e1b484c6292f6fb904cbb51825b4a19812fcd8",
]

STEPS = [
    "RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \\\n    && rm -rf /var/lib/apt/lists/*",
    "RUN curl -fsSL https://example.com/install.sh | bash",
    "RUN pip install --no-cache-dir -r requirements.txt",
    "RUN pip install --extra-index-url https://pypi.internal.example/simple ml-features",
    "RUN pip install --trusted-host pypi.internal.example -i http://pypi.internal.example/simple torch",
    "ADD https://example.com/models/resnet50.onnx /models/",
    "ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/m.onnx /models/",
    "COPY .env /app/.env",
    "COPY --chown=10001:10001 app/ /app/",
    "RUN chmod -R 777 /app",
    "RUN sudo apt-get install -y libgomp1",
    "ENV HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "ARG WANDB_API_KEY",
    "ENV PIP_TRUSTED_HOST=pypi.internal.example",
    "RUN wget --no-check-certificate -qO /tmp/x.tgz https://example.com/x.tgz",
    "RUN <<EOF\nset -eux\npython -m pip install --no-cache-dir transformers==4.44.0\nEOF",
    "RUN python -c \"from transformers import AutoModel; AutoModel.from_pretrained('org/m', trust_remote_code=True)\"",
    "EXPOSE 22",
    "WORKDIR /app",
    "RUN apt-get install -y openssh-server",
]

CMDS = [
    'CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8080"]',
    'CMD ["jupyter", "lab", "--ip=0.0.0.0", "--ServerApp.token=\'\'", "--allow-root"]',
    'CMD ["torchserve", "--start", "--model-store", "/models", "--disable-token-auth"]',
    'CMD vllm serve org/model --trust-remote-code',
    'CMD mlflow server --host 0.0.0.0 --port 5000',
    'CMD ["tritonserver", "--model-repository=/models", "--model-control-mode=explicit"]',
    'CMD ["python", "serve.py"]',
]


def dockerfile(rng: random.Random, i: int) -> str:
    lines = ["# syntax=docker/dockerfile:1", f"# generated image {i}"]
    multi = rng.random() < 0.5
    if rng.random() < 0.3:
        lines.append("ARG PY=3.11")
        lines.append("FROM python:${PY}-slim AS build" if multi else "FROM python:${PY}")
    elif multi:
        lines.append(f"FROM {rng.choice(BASES)} AS build")
    if multi:
        lines.append("RUN pip wheel -w /wheels -r requirements.txt")
        lines.append("USER 1000")
        lines.append(f"FROM {rng.choice(BASES)}")
        lines.append("COPY --from=build /wheels /wheels")
    elif not lines[-1].startswith("FROM"):
        lines.append(f"FROM {rng.choice(BASES)}")
    for step in rng.sample(STEPS, rng.randint(4, 10)):
        lines.append(step)
    if rng.random() < 0.4:
        lines.append("USER 10001")
    if rng.random() < 0.3:
        lines.append('HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/healthz"]')
    lines.append("EXPOSE 8080")
    lines.append(rng.choice(CMDS))
    return "\n".join(lines) + "\n"


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = random.Random(42)
    for i in range(n):
        d = os.path.join(out, f"svc{i:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "Dockerfile"), "w") as f:
            f.write(dockerfile(rng, i))


if __name__ == "__main__":
    main()
