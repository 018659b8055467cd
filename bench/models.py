#!/usr/bin/env python3
"""Model scanning: palisade vs picklescan, modelscan, fickling and modelaudit, same run.

    python3 bench/models.py [--peers VENV_BIN] [--big]     (bench/models.sh sets it up)

1. Detection on the committed corpus (crates/palisade-model/tests/corpus, made and verified
   with the real libraries by scripts/model-corpus.py): each tool is run on each file; a
   malicious file counts as caught when the tool reports a problem (exit code 1 — each tool's
   own "issues found"), a benign file counts as a false positive when it does.
2. Speed on the corpus: each tool over the whole corpus directory in one invocation where it
   takes directories (fickling does not: per file), best of RUNS.
3. With --big: a 2 GB PyTorch state_dict generated here (64 tensors of 32 MiB), and the same
   layers at 1/64 of the size, to show whether time depends on the weight bytes.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CORPUS = os.path.join(ROOT, "crates", "palisade-model", "tests", "corpus")
RUNS = int(os.environ.get("RUNS", "3"))
ENV = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", NO_ANALYTICS="1", NO_COLOR="1")
# the tools run here, so that what they write beside them (fickling's safety_results.json)
# does not land in the checkout
SCRATCH = tempfile.mkdtemp(prefix="palisade-bench-models-")


def tools(peers):
    pal = os.path.join(ROOT, "target", "release", "palisade")
    return {
        "palisade": {"file": lambda f: [pal, "model", "scan", f], "dir": lambda d: [pal, "model", "scan", d]},
        "picklescan": {"file": lambda f: [f"{peers}/picklescan", "-p", f], "dir": lambda d: [f"{peers}/picklescan", "-p", d]},
        "modelscan": {"file": lambda f: [f"{peers}/modelscan", "-p", f], "dir": lambda d: [f"{peers}/modelscan", "-p", d]},
        "fickling": {"file": lambda f: [f"{peers}/fickling", "--check-safety", f], "dir": None},
        "modelaudit": {"file": lambda f: [f"{peers}/modelaudit", "scan", f], "dir": lambda d: [f"{peers}/modelaudit", "scan", d]},
    }


def run(cmd, timeout=600):
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, env=ENV, timeout=timeout, cwd=SCRATCH)
        code = r.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    return code, time.perf_counter() - t


def peak_rss(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, env=ENV, text=True,
                       cwd=SCRATCH)
    try:
        return int(r.stderr.strip().splitlines()[-1]) // 1024
    except (ValueError, IndexError):
        return None


def detection(ts):
    with open(os.path.join(CORPUS, "manifest.json")) as f:
        samples = json.load(f)["samples"]
    rows = {}
    for name, t in ts.items():
        caught, fp, errors, missed = 0, 0, 0, []
        for s in samples:
            code, _ = run(t["file"](os.path.join(CORPUS, s["file"])))
            if s["kind"] == "malicious":
                if code == 1:
                    caught += 1
                else:
                    missed.append(s["file"].split("/")[-1])
                    errors += code not in (0, 1)
            else:
                fp += code == 1
                errors += code not in (0, 1)
        n_mal = sum(s["kind"] == "malicious" for s in samples)
        n_ben = len(samples) - n_mal
        rows[name] = (caught, n_mal, fp, n_ben, errors, missed)
        print(f"  {name:11} caught {caught:2}/{n_mal}  false positives {fp:2}/{n_ben}  errors {errors:2}"
              + (f"  missed: {', '.join(missed)}" if missed else ""), flush=True)
    return rows


def best(cmd):
    return min(run(cmd)[1] for _ in range(RUNS))


def speed(ts):
    files = []
    for d in ("benign", "malicious"):
        for base, _, names in sorted(os.walk(os.path.join(CORPUS, d))):
            files += [os.path.join(base, f) for f in sorted(names)]
    out = {}
    for name, t in ts.items():
        if t["dir"] is not None:
            secs = best(t["dir"](os.path.join(CORPUS, "benign"))) + best(t["dir"](os.path.join(CORPUS, "malicious")))
            how = "2 invocations (benign/, malicious/)"
        else:
            secs = sum(run(t["file"](f))[1] for f in files)
            how = f"{len(files)} invocations (no directory mode)"
        out[name] = secs
        print(f"  {name:11} {secs:8.3f} s   {how}", flush=True)
    return out


def big(ts, peers):
    py = os.environ.get("ML_PYTHON", sys.executable)
    tmp = tempfile.mkdtemp(prefix="palisade-bench-")
    gen = ("import torch,sys\n"
           "n=int(sys.argv[2])\n"
           "torch.save({f'layers.{i}.weight': torch.zeros(n) for i in range(64)}, sys.argv[1])\n")
    bigf, small = os.path.join(tmp, "big.pt"), os.path.join(tmp, "small.pt")
    subprocess.run([py, "-c", gen, bigf, str(8 << 20)], check=True)
    subprocess.run([py, "-c", gen, small, str(128 << 10)], check=True)
    print(f"  big.pt {os.path.getsize(bigf) / 2**30:.2f} GiB, small.pt {os.path.getsize(small) / 2**20:.1f} MiB "
          f"(same 64 layers)", flush=True)
    subprocess.run(["cat", bigf], stdout=subprocess.DEVNULL)  # warm the page cache for everyone
    for name, t in ts.items():
        code_b, _ = run(t["file"](bigf))
        tb = best(t["file"](bigf))
        ts_ = best(t["file"](small))
        rss = peak_rss(t["file"](bigf))
        print(f"  {name:11} big {tb:7.3f} s  small {ts_:7.3f} s  peak RSS on big {rss} MB  exit {code_b}", flush=True)
    shutil.rmtree(tmp)


def main():
    peers = os.path.join(ROOT, "bench", ".venv-models", "bin")
    args = sys.argv[1:]
    if "--peers" in args:
        peers = os.path.abspath(args[args.index("--peers") + 1])
    ts = tools(peers)
    print(f"detection on the corpus ({CORPUS}):")
    detection(ts)
    print(f"\ncorpus scan time, best of {RUNS}:")
    speed(ts)
    if "--big" in args:
        print(f"\nlarge checkpoint, best of {RUNS}:")
        big(ts, peers)


if __name__ == "__main__":
    main()
