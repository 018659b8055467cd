#!/usr/bin/env python3
"""How many events per second `palisade respond serve` records, measured with wrk (Debian).

  bench/respond_ingest.py [--palisade target/release/palisade] [--seconds 10]

Every event is a distinct one (its own uuid or auditID, its own pod and time), so none is
folded as a duplicate. An acknowledged event is durable: the server answers only after the
SQLite commit (WAL, synchronous=FULL); requests arriving together share one commit.
  falco           one Falco alert per request (Falco's http_output), 8 and 32 connections
  falco-https     the same over TLS (rustls), 8 connections
  audit-batch     the audit webhook's EventList, 100 events per request (2 execs into pods,
                  98 reads of pods), 8 connections
  replay          `palisade respond replay` of 100,000 alerts from a JSON-lines file
  nginx           the same requests answered 200 by nginx without storing anything: what
                  an HTTP receiver on this machine can do at all (not durable)
After each server run the chain is verified and the stored signal count compared with what
wrk saw acknowledged. Falcosidekick and Falco Talon are Go programs not installable from the
registries this machine reaches, so they are not in the table. All processes share this
machine's cores with wrk; compare rows of the same run only.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guard_perf import free_port, rss_kib, wait_port  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
TOKEN = "bench-ingest-token"

FALCO_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local n = 0
local tid = 0
function setup(thread) thread:set("tid", tid); tid = tid + 1 end
function request()
  n = n + 1
  local ns = n %% 50
  local body = string.format('{"uuid":"%%d-%%d","rule":"Terminal shell in container","priority":"Notice","source":"syscall","time":"2026-11-22T10:%%02d:%%02d.%%06dZ","hostname":"gpu-node-%%d","tags":["container","mitre_execution","shell","T1059"],"output":"A shell was spawned in a container with an attached terminal (user=root k8s.ns=ns-%%d k8s.pod=server-%%d)","output_fields":{"k8s.ns.name":"ns-%%d","k8s.pod.name":"server-%%d","container.id":"c%%d","container.name":"server","proc.cmdline":"bash","user.name":"root"}}',
    tid, n, math.floor(n / 60000) %% 60, math.floor(n / 1000) %% 60, n %% 1000000, ns %% 3, ns, n %% 500, ns, n %% 500, n %% 500)
  return wrk.format(nil, nil, nil, body)
end
"""

BATCH_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local template = [==[%(template)s]==]
local n = 0
local tid = 0
function setup(thread) thread:set("tid", tid); tid = tid + 1 end
function request()
  n = n + 1
  local body = template:gsub("@N@", tid .. "-" .. n)
  return wrk.format(nil, nil, nil, body)
end
"""


def audit_batch(size=100):
    """An EventList: two execs into a pod and reads of pods, each with an @N@-k auditID."""
    with open(os.path.join(here, "..", "..", "shared", "peer", "falco", "test", "trace_files",
                           "k8s_audit", "exec_pod.json")) as f:
        exec_event = json.load(f)
    items = []
    for k in range(size):
        e = json.loads(json.dumps(exec_event))
        e["auditID"] = f"@N@-{k}"
        e["objectRef"]["namespace"] = f"ns-{k % 50}"
        e["objectRef"]["name"] = f"server-{k}"
        if k % 50 != 0:
            e["objectRef"].pop("subresource")
            e["verb"] = "get"
            e["requestURI"] = f"/api/v1/namespaces/ns-{k % 50}/pods/server-{k}"
            e["responseStatus"] = {"code": 200, "metadata": {}}
        items.append(e)
    return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})


def wrk(url, script, conns, seconds):
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", script, url],
                         check=True, capture_output=True, text=True).stdout
    lat = {q: float(v) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[u]
           for q, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": lat.get("50"), "p99": lat.get("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def certificates(tmp):
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=tmp)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    with open(os.path.join(tmp, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


class Server:
    def __init__(self, palisade, tmp, name, tls):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.palisade = palisade
        conf = os.path.join(self.dir, "respond.toml")
        with open(conf, "w") as f:
            f.write(f'listen = "127.0.0.1:{self.port}"\ndb = "ir.db"\n')
            if tls:
                f.write(f'[tls]\ncert = "{tmp}/server.pem"\nkey = "{tmp}/server.key"\n')
            f.write(f'[[senders]]\nname = "bench"\ntoken_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n')
        self.proc = subprocess.Popen([palisade, "respond", "serve", "--config", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        rss = rss_kib(self.proc.pid)
        self.proc.terminate()
        self.proc.wait(timeout=30)
        db = os.path.join(self.dir, "ir.db")
        verify = subprocess.run([self.palisade, "respond", "verify", "--db", db],
                                capture_output=True, text=True)
        entries = re.search(r"(\d+) entries", verify.stdout + verify.stderr)
        stored = subprocess.run(["sqlite3", db, "SELECT value FROM counters WHERE name = 'signals'"],
                                capture_output=True, text=True).stdout.strip()
        size = sum(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir) if f.startswith("ir.db"))
        return {"rss": rss, "verified": verify.returncode == 0, "entries": int(entries.group(1)) if entries else 0,
                "stored": int(stored or 0), "bytes": size}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--palisade", default=os.path.join(here, "..", "target", "release", "palisade"))
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "openssl", "sqlite3"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is not installed (apt-get install wrk nginx-light openssl sqlite3)")
    tmp = tempfile.mkdtemp(prefix="respond-ingest-")
    certificates(tmp)
    falco_lua = os.path.join(tmp, "falco.lua")
    with open(falco_lua, "w") as f:
        f.write(FALCO_LUA % {"token": TOKEN})
    batch_lua = os.path.join(tmp, "batch.lua")
    with open(batch_lua, "w") as f:
        f.write(BATCH_LUA % {"token": TOKEN, "template": audit_batch()})

    print(f"wrk -t2, {args.seconds} s per run, {os.cpu_count()} cores shared by every process")
    print()
    print("| run | conns | requests/s | events/s | p50 | p99 | non-2xx | acknowledged → stored | chain | server RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    runs = [("falco", falco_lua, 8, False, 1, "/ingest/falco"),
            ("falco", falco_lua, 32, False, 1, "/ingest/falco"),
            ("falco-https", falco_lua, 8, True, 1, "/ingest/falco"),
            ("audit-batch", batch_lua, 8, False, 100, "/ingest/k8s-audit")]
    for i, (name, lua, conns, tls, per, path) in enumerate(runs):
        s = Server(args.palisade, tmp, f"run{i}", tls)
        try:
            r = wrk(f"{'https' if tls else 'http'}://127.0.0.1:{s.port}{path}", lua, conns, args.seconds)
        finally:
            st = s.stop()
        acked = (r["requests"] - r["non2xx"]) * per
        print(f"| {name} | {conns} | {r['rps']:.0f} | {r['rps'] * per:.0f} | {r['p50'] * 1e3:.2f} ms | "
              f"{r['p99'] * 1e3:.2f} ms | {r['non2xx']} | {acked} → {st['stored']} | "
              f"{'verified' if st['verified'] else 'BROKEN'}, {st['entries']} entries, {st['bytes'] / 2**20:.0f} MiB | "
              f"{st['rss'] / 1024:.0f} MiB |")

    # Offline replay.
    n = 100_000
    lines = os.path.join(tmp, "alerts.jsonl")
    with open(lines, "w") as f:
        for k in range(n):
            ns = k % 50
            f.write(json.dumps({
                "uuid": f"r-{k}", "rule": "Terminal shell in container", "priority": "Notice",
                "source": "syscall", "time": f"2026-11-22T10:{k // 60000 % 60:02d}:{k // 1000 % 60:02d}.{k % 1000:03d}000Z",
                "hostname": f"gpu-node-{ns % 3}", "tags": ["container", "shell", "T1059"],
                "output": f"A shell was spawned in a container (k8s.ns=ns-{ns} k8s.pod=server-{k % 500})",
                "output_fields": {"k8s.ns.name": f"ns-{ns}", "k8s.pod.name": f"server-{k % 500}",
                                  "container.id": f"c{k % 500}", "proc.cmdline": "bash"}}) + "\n")
    db = os.path.join(tmp, "replay.db")
    t0 = time.monotonic()
    subprocess.run([args.palisade, "respond", "replay", "--db", db, lines], check=True, capture_output=True)
    dt = time.monotonic() - t0
    print(f"| replay (one file) | — | — | {n / dt:.0f} | — | — | — | {n} in {dt:.2f} s | | |")

    # nginx answering the same requests without storing them.
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off; client_max_body_size 10m;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json; return 200 '{{"accepted":1}}'; }} }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        for conns in (8, 32):
            r = wrk(f"http://127.0.0.1:{port}/ingest/falco", falco_lua, conns, args.seconds)
            print(f"| nginx, nothing stored | {conns} | {r['rps']:.0f} | {r['rps']:.0f} | {r['p50'] * 1e3:.2f} ms | "
                  f"{r['p99'] * 1e3:.2f} ms | {r['non2xx']} | — | — | — |")
    finally:
        proc.terminate()
        proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
