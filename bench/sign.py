#!/usr/bin/env python3
"""Model signing: palisade vs model_signing on one model directory, in the same run.

    python3 bench/sign.py --model-signing PATH/TO/model_signing   (bench/sign.sh sets it up)

The model (generated once under $BENCH_DIR, default /tmp/palisade-bench-sign): SIZE_GB
(default 4) of weights as four equal shards plus 2,000 small files (tokenizer pieces, configs)
of 20 KB. Random bytes, so no tool can shortcut. Measured, best of RUNS (default 3), page cache
warm (the first read of the model is not timed): `cat` of every file to /dev/null (the floor:
one read of the bytes), each tool's `sign key` (ECDSA P-256, SHA-256, one digest per file: the
defaults of both), each tool's `verify key`, and signing with BLAKE3 (palisade `--hash
blake3`; model_signing through its API, as its command line has no hash option). Wall time and peak RSS from /usr/bin/time.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PALISADE = os.path.join(ROOT, "target", "release", "palisade")
RUNS = int(os.environ.get("RUNS", "3"))
SIZE_GB = float(os.environ.get("SIZE_GB", "4"))
DIR = os.environ.get("BENCH_DIR", "/tmp/palisade-bench-sign")
FIX = os.path.join(ROOT, "crates", "palisade-sign", "tests", "fixtures")


# model_signing's command line has no hash option; its API does (BLAKE3, multi-threaded per file)
BLAKE3_SIGN = (
    "import sys, model_signing\n"
    "h = model_signing.hashing.Config().use_file_serialization(hashing_algorithm='blake3')\n"
    "model_signing.signing.Config().use_elliptic_key_signer(private_key=sys.argv[1])"
    ".set_hashing_config(h).sign(sys.argv[2], sys.argv[3])"
)


def make_model(path):
    marker = os.path.join(path, ".complete-%s" % SIZE_GB)
    if os.path.exists(marker):
        return
    os.makedirs(os.path.join(path, "tokenizer"), exist_ok=True)
    shard = int(SIZE_GB * 1e9 / 4)
    for i in range(4):
        with open(os.path.join(path, f"model-0000{i + 1}-of-00004.safetensors"), "wb") as f:
            left = shard
            while left:
                n = min(left, 64 << 20)
                f.write(os.urandom(n))
                left -= n
    for i in range(2000):
        with open(os.path.join(path, "tokenizer", f"piece-{i:04d}.json"), "wb") as f:
            f.write(os.urandom(20_000))
    open(marker, "w").close()


def timed(cmd):
    """(seconds, peak RSS MB, exit code) of one run."""
    with tempfile.NamedTemporaryFile("r") as t:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        secs, kb = t.read().split()[-2:]
        if r.returncode != 0:
            sys.stderr.write(r.stderr.decode()[-2000:])
        return float(secs), int(kb) / 1024, r.returncode


def best(cmd):
    runs = [timed(cmd) for _ in range(RUNS)]
    codes = {c for _, _, c in runs}
    return min(s for s, _, _ in runs), max(m for _, m, _ in runs), codes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-signing", required=True)
    a = ap.parse_args()
    model = os.path.join(DIR, "model")
    make_model(model)
    files = [os.path.join(d, f) for d, _, fs in os.walk(model) for f in fs if not f.startswith(".complete")]
    total = sum(os.path.getsize(f) for f in files)
    key, pub = os.path.join(FIX, "p256.key.pem"), os.path.join(FIX, "p256.pub.pem")
    python = os.path.join(os.path.dirname(a.model_signing), "python")
    sig_p, sig_m = os.path.join(DIR, "palisade.sig"), os.path.join(DIR, "model_signing.sig")
    # warm the page cache
    subprocess.run(["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "_", model], check=True)
    print(f"model: {len(files)} files, {total / 1e9:.2f} GB; {os.cpu_count()} cores; best of {RUNS}")
    rows = [
        ("cat > /dev/null", ["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "_", model]),
        ("palisade sign", [PALISADE, "model", "sign", "key", "--private-key", key, "--signature", sig_p, model]),
        ("model_signing sign", [a.model_signing, "sign", "key", "--private_key", key, "--signature", sig_m, model]),
        ("palisade verify", [PALISADE, "model", "verify", "key", "--public-key", pub, "--signature", sig_p, model]),
        ("model_signing verify", [a.model_signing, "verify", "key", "--public_key", pub, "--signature", sig_m, model]),
        ("palisade verify (their sig)", [PALISADE, "model", "verify", "key", "--public-key", pub, "--signature", sig_m, model]),
        ("palisade sign blake3", [PALISADE, "model", "sign", "key", "--hash", "blake3", "--private-key", key, "--signature", sig_p + ".b3", model]),
        ("model_signing sign blake3", [python, "-c", BLAKE3_SIGN, key, model, sig_m + ".b3"]),
    ]
    results = {}
    for name, cmd in rows:
        s, m, codes = best(cmd)
        results[name] = s
        print(f"  {name:28} {s:8.2f} s   peak RSS {m:7.1f} MB   exit {sorted(codes)}")
    floor = results["cat > /dev/null"]
    for op in ("sign", "verify", "sign blake3"):
        p, m = results[f"palisade {op}"], results[f"model_signing {op}"]
        print(f"  {op}: palisade {m / p:.1f}x faster than model_signing; {p / floor:.2f}x the cat floor")


if __name__ == "__main__":
    main()
