"""Replays the demo's traffic through the guard and reports what it did.

  python traffic.py --guard http://127.0.0.1:8080 --admin http://127.0.0.1:9090 --data data

Phases: team-a's clean traffic (latency unloaded), team-a's adversarial traffic (FGSM digits),
team-b's flood (separate processes) with team-a's clean traffic beside it (latency loaded).
Exits 1 when the adversarial inputs were not caught or team-a was not protected from the flood.
"""

import argparse
import collections
import json
import multiprocessing
import sys
import threading
import time
import urllib.error
import urllib.request

KEYS = {"team-a": "demo-key-team-a", "team-b": "demo-key-team-b"}


def call(guard, tenant, rows, timeout=10):
    """(status, flag header, seconds)."""
    body = json.dumps({"features": rows}).encode()
    req = urllib.request.Request(
        guard + "/predict",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + KEYS[tenant]},
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status, r.headers.get("x-palisade-flag"), time.perf_counter() - start
    except urllib.error.HTTPError as e:
        e.read()
        return e.code, None, time.perf_counter() - start


def outcomes(results):
    """'N accepted, N flagged, N rejected (422), …' for (status, flag, seconds) results."""
    c = collections.Counter("flagged" if s == 200 and f else "accepted" if s == 200 else f"refused ({s})"
                            for s, f, _ in results)
    order = ["accepted", "flagged"] + sorted(k for k in c if k.startswith("refused"))
    return ", ".join(f"{c[k]} {k}" for k in order if c[k] or k in ("accepted", "flagged"))


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def metrics(admin):
    with urllib.request.urlopen(admin + "/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def flooder(guard, rows, seconds, threads, rate, queue):
    """One flooding process: `threads` clients, each sending `rate` requests per second."""
    stop = time.monotonic() + seconds
    counts = collections.Counter()
    lock = threading.Lock()

    def loop():
        i = 0
        next_at = time.monotonic()
        while time.monotonic() < stop:
            s, _, _ = call(guard, "team-b", [rows[i % len(rows)]])
            i += 1
            with lock:
                counts[s] += 1
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put(dict(counts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guard", required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--flood-seconds", type=float, default=6.0)
    args = ap.parse_args()
    clean = json.load(open(f"{args.data}/clean.json"))["rows"]
    adversarial = json.load(open(f"{args.data}/adversarial.json"))["rows"]
    ok = True

    # 1. Clean traffic, one digit per request.
    results = [call(args.guard, "team-a", [r]) for r in clean]
    unloaded = [t for _, _, t in results]
    print(f"clean traffic      team-a  {len(clean)} requests: {outcomes(results)}; "
          f"p50 {pct(unloaded, .5)*1e3:.1f} ms, p99 {pct(unloaded, .99)*1e3:.1f} ms")
    clean_caught = sum(1 for s, f, _ in results if f or s == 422)
    if clean_caught > 0.05 * len(results):
        print(f"FAIL: {clean_caught} clean inputs were flagged or rejected")
        ok = False

    # 2. Adversarial traffic.
    results = [call(args.guard, "team-a", [r]) for r in adversarial]
    print(f"adversarial (FGSM) team-a  {len(results)} requests: {outcomes(results)}")
    caught = sum(1 for s, f, _ in results if f or s == 422) / len(results)
    if caught < 0.9:
        print(f"FAIL: only {caught:.0%} of the adversarial inputs were flagged or rejected")
        ok = False

    # 3. team-b floods at 20 times its limit of 50 requests per second (two processes of four
    # clients, 125 requests per second each) while team-a keeps sending clean traffic.
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=flooder, args=(args.guard, clean, args.flood_seconds, 4, 125, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    stop = time.monotonic() + args.flood_seconds - 1.0
    during = []
    i = 0
    while time.monotonic() < stop:
        during.append(call(args.guard, "team-a", [clean[i % len(clean)]]))
        i += 1
        time.sleep(0.01)
    loaded = [t for _, _, t in during]
    a_status = collections.Counter(s for s, _, _ in during)
    flood = collections.Counter()
    for _ in procs:
        flood.update(queue.get())
    for p in procs:
        p.join()
    sent = sum(flood.values())
    # Each 429 is held up to limits.refusal_delay_ms, so the flooders, which retry at once, get
    # fewer requests out than the 1000/s they aim at.
    print(f"flood              team-b  {sent} requests in {args.flood_seconds:.0f} s ({sent / args.flood_seconds:.0f}/s "
          f"of the 1000/s tried, the held 429s slowing it; limit 50/s): {flood[200]} accepted, "
          f"{flood[429]} refused (429), {sent - flood[200] - flood[429]} other")
    print(f"during the flood   team-a  {len(during)} requests: {outcomes(during)}; "
          f"p50 {pct(loaded, .5)*1e3:.1f} ms, p99 {pct(loaded, .99)*1e3:.1f} ms "
          f"(unloaded p99 {pct(unloaded, .99)*1e3:.1f} ms)")
    if a_status[200] != len(during):
        print(f"FAIL: team-a had requests refused during team-b's flood: {dict(a_status)}")
        ok = False
    if flood[429] == 0:
        print("FAIL: team-b's flood was not limited")
        ok = False
    # Within 2x of unloaded, plus 5 ms: this machine also runs the flood's clients.
    if pct(loaded, 0.99) > 2 * pct(unloaded, 0.99) + 0.005:
        print("FAIL: team-a's p99 latency more than doubled during the flood")
        ok = False

    m = metrics(args.admin)
    acc = m.get('palisade_guard_probe_accuracy{model="digits"}')
    agr = m.get('palisade_guard_probe_agreement{model="digits"}')
    if acc is not None:
        print(f"control-set probe  digits  accuracy {acc:.3f}, agreement with reference outputs {agr:.3f}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
