#!/usr/bin/env python3
"""The training run of a profile-guided build (scripts/pgo-build.sh): serves traffic through
`palisade guard` so that an instrumented binary records which paths are hot.

    scripts/pgo-train.py PALISADE [--seconds 30]

The workload is the guard's own, not the benchmark's: a Python model server (standard library
only, HTTP/1.1 kept alive) answering `{"result": {"classes": [...]}}`, a 24-feature profile
fitted by `palisade guard profile` on generated data, two tenants (one with a low rate limit),
batches of one to four rows with numbers written in five forms (4 and 6 decimals, shortest
round-trip, exponent, integer), some rows far out of distribution, and about one request in
fifteen refused: a wrong key, broken JSON, a string where rows belong, a body over the limit,
the rate limit. Six client threads. It prints the answers by status and exits non-zero if a
kind it means to exercise did not occur, or if the guard answered with a server error, so
that a broken training run does not quietly train on nothing.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FEATURES = 24
EXPECTED = {200, 400, 401, 413, 429}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds, proc):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit(f"pgo-train: the guard exited with status {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"pgo-train: the guard did not listen on port {port} within {seconds} s")


class Model(http.server.BaseHTTPRequestHandler):
    """Answers one class per row of `{"rows": [...]}`."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        try:
            rows = json.loads(self.rfile.read(n)).get("rows", [])
        except ValueError:
            rows = []
        out = json.dumps({"result": {"classes": [len(str(r)) % 3 for r in rows]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


FORMS = [lambda v: f"{v:.4f}", lambda v: f"{v:.6f}", repr, lambda v: f"{v:.3e}", lambda v: str(round(v))]


def config(port, upstream):
    key = lambda k: hashlib.sha256(k.encode()).hexdigest()
    return f"""[server]
listen = "127.0.0.1:{port}"
[upstream]
url = "http://127.0.0.1:{upstream}"
protocol = "json"
[limits]
refusal_delay_ms = 0
requests_per_second = 100000
burst = 10000
max_body_bytes = 65536
[[tenants]]
name = "alpha"
api_key_sha256 = "{key('train-alpha')}"
[[tenants]]
name = "beta"
api_key_sha256 = "{key('train-beta')}"
requests_per_second = 2
burst = 5
[[models]]
name = "scorer"
route = "/v1/score"
input = "/rows"
output = "/result/classes"
profile = "profile.json"
[models.screening]
flag_above = "p99"
[models.drift]
window = 500
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("palisade")
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="palisade-pgo-") as work:
        statuses = train(args.palisade, args.seconds, Path(work))
    shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    print(f"pgo-train: {sum(statuses.values())} requests through the guard ({shown})")
    missing = EXPECTED - statuses.keys()
    errors = sum(n for s, n in statuses.items() if s >= 500)
    if missing or errors:
        sys.exit(f"pgo-train: the run is not the intended workload: missing {sorted(missing)}, "
                 f"{errors} server errors")


def train(palisade, seconds, work):
    """Runs the workload through a guard started from `palisade`, its files in `work`; the
    answers by status."""
    rng = random.Random(7)
    rows = [[rng.gauss(0.5, 2) for _ in range(FEATURES)] for _ in range(3000)]
    (work / "train.csv").write_text(
        ",".join(f"f{i}" for i in range(FEATURES)) + "\n"
        + "".join(",".join(f"{v:.6f}" for v in r) + "\n" for r in rows)
    )
    subprocess.run([palisade, "guard", "profile", "--data", str(work / "train.csv"),
                    "--out", str(work / "profile.json")], check=True, stdout=subprocess.DEVNULL)

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    (work / "guard.toml").write_text(config(port, upstream.server_address[1]))
    guard = subprocess.Popen([palisade, "guard", "run", "--config", str(work / "guard.toml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    statuses = {}
    lock = threading.Lock()

    def send(conn, key, body):
        conn.request("POST", "/v1/score", body,
                     {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        with lock:
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

    def body(r):
        fmt = r.choice(FORMS)
        sample = [rows[r.randrange(len(rows))] for _ in range(r.choice((1, 1, 1, 2, 4)))]
        if r.random() < 0.05:
            sample = [[v * 40 for v in s] for s in sample]
        return '{"rows": [' + ", ".join("[" + ",".join(fmt(v) for v in s) + "]" for s in sample) + "]}"

    def request(r, x):
        """The request of the mix that a draw `x` in [0, 1) picks: a key and a body."""
        key, b = "train-alpha", body(r)
        if x < 0.02:
            key = "wrong-key"
        elif x < 0.04:
            b = b[:-3]
        elif x < 0.05:
            b = '{"rows": "none"}'
        elif x < 0.055:
            b = '{"rows": [[' + ",".join(["1.5"] * 20000) + "]]}"
        elif x < 0.07:
            key = "train-beta"
        return key, b

    def client(seed, end):
        r = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.time() < end:
            key, b = request(r, r.random())
            try:
                send(conn, key, b)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    try:
        wait_for(port, 15, guard)
        # Each kind of the mix once before it (the rarest come up a few times a second), and
        # beta's burst (5) used up at once, so that its limit is met.
        kinds = [0.01, 0.03, 0.045, 0.052] + [0.06] * 15
        for x in kinds:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            send(conn, *request(rng, x))
            conn.close()
        end = time.time() + seconds
        threads = [threading.Thread(target=client, args=(i, end)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        guard.terminate()
        try:
            guard.wait(15)
        except subprocess.TimeoutExpired:
            guard.kill()
        upstream.shutdown()
    return statuses


if __name__ == "__main__":
    main()
