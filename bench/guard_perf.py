#!/usr/bin/env python3
"""palisade guard's overhead and tenant isolation, measured with wrk (Debian) on loopback.

  bench/guard_perf.py [--palisade target/release/palisade] [--seconds 10] [--rounds 3] [--instructions]
  bench/guard_perf.py --palisade target/pgo/release/palisade   # the profile-guided build (scripts/pgo-build.sh)

Paths to the same trivial upstream (an nginx answering {"predictions":[1]} to POST /predict):
  direct        wrk -> upstream
  nginx         wrk -> a second nginx as a plain reverse proxy (keep-alive pool) -> upstream
  guard         wrk -> palisade guard with every check on (API key, GCRA rate and concurrency
                limits, body/JSON limits, 64-feature profile screening, drift) -> upstream
  guard-limits  the same guard without the profile and drift (API key, limits, JSON parse
                only): how much of the guard's cost is its HTTP path and how much the screening
Reports throughput at 32 connections (--rounds runs per path, taken in turn through the paths so
that a busy spell of the machine falls on all of them; the table shows each path's median run
and the guard/nginx ratio of every round) with the CPU time the process in the middle spends per
request (user and kernel, from /proc/PID/task/*/stat during that run; for direct, the
upstream's), latency at 1 connection (--rounds runs per path in turn; what the guard adds to
the direct run's p50 and p99 in each round, and the median of the rounds), the guard's resident
memory during a sustained run, and a noisy-neighbour test: tenant A's latency alone and while
tenant B floods at 64 connections (B is limited to 200 requests/s), with the default refusal
delay and, on a second guard, without it, in --rounds pairs of runs (alone, then loaded) whose
median ratio is the result.
All processes share this machine's cores with wrk; compare rows of the same run only.
With --instructions (needs valgrind), the proxies are also run under callgrind and the
user-space instructions each executes per request are counted: a measure of the proxies' own
work that does not move with the machine's load, unlike time. Beside the count, the part of it
in a portable SHA-256 (the API key's hash) that the guard runs only under valgrind: natively it
hashes with the processor's SHA extensions where it has them.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
KEY_A, KEY_B = "bench-key-a", "bench-key-b"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, secs=20):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def wrk(url, script, conns, threads, seconds):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", script, url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for q, v, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[q] = float(v) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "requests": int(re.search(r"(\d+) requests in", out).group(1)), "p50": lat.get("50"), "p99": lat.get("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0}


def script(path, key, body):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = '{body}'\n")
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        if key:
            f.write(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    return path


def stat_fields(pid, task=None):
    """/proc stat fields after the command name: [0] state, [1] ppid, [11] utime, [12] stime."""
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()


def with_children(pid):
    """A process and its children (nginx's master and its workers)."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(stat_fields(d)[1]) == pid:
                    kids.append(int(d))
            except OSError:
                pass
    return [pid] + kids


def cpu_seconds(pids):
    """User and kernel CPU seconds of every thread of these processes."""
    user = system = 0
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                f = stat_fields(pid, task)
            except OSError:
                continue
            user += int(f[11])
            system += int(f[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def valgrind_only(path):
    """Instructions in `path` (a callgrind output) spent in sha2's portable SHA-256. Valgrind's
    virtual processor reports no SHA extensions, so the `sha2` crate takes its portable path
    there; natively, on a processor with them, it uses them and this work is not done."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                          check=True, capture_output=True, text=True).stdout
    return sum(int(n.replace(",", "")) for n in
               re.findall(r"^\s*([\d,]+) \(.*\)\s+\S*sha2::sha256::soft::", text, re.M))


def instructions(cmd, port, url, script_path, seconds, out):
    """User-space instructions per request of `cmd` (and the processes it forks), serving wrk
    on 8 connections under callgrind; counted only while wrk runs, after a warm-up. Also those
    of them that only run under valgrind (see `valgrind_only`), per request."""
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
                          f"--callgrind-out-file={out}.%p"] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 120)
        wrk(url, script_path, 8, 1, 2)
        control = lambda *a: subprocess.run(["callgrind_control", *a], check=True, capture_output=True, timeout=60)
        control("-i", "on")
        t = wrk(url, script_path, 8, 1, seconds)
        control("-i", "off")
        control("-d")
    finally:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    total = only_here = 0
    for name in os.listdir(os.path.dirname(out)):
        if name.startswith(os.path.basename(out) + "."):
            path = os.path.join(os.path.dirname(out), name)
            with open(path) as f:
                text = f.read()
            m = re.search(r"^totals: (\d+)", text, re.M) or re.search(r"^summary: (\d+)", text, re.M)
            total += int(m.group(1)) if m else 0
            if m and int(m.group(1)):
                only_here += valgrind_only(path)
    if total == 0 or t["requests"] == 0:
        raise SystemExit(f"callgrind counted nothing for {cmd[0]} (see {out}.*)")
    return total / t["requests"], only_here / t["requests"], t["requests"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--palisade", default=os.path.join(here, "..", "target", "release", "palisade"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="throughput runs per path, alternating between the paths (the median is shown)")
    ap.add_argument("--instructions", action="store_true",
                    help="also count user-space instructions per request under callgrind (valgrind)")
    args = ap.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is not installed (apt-get install wrk nginx-light)")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = tempfile.mkdtemp(prefix="guard-perf-")
    procs = []
    try:
        up, px, gd, ad = free_port(), free_port(), free_port(), free_port()
        # The upstream and the proxy are separate nginx instances, as a proxy and a model
        # server are separate processes in a deployment, so that the proxy's CPU is its own.
        proxy = lambda port: f"""upstream model {{ server 127.0.0.1:{up}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""
        px_cg = free_port()
        servers = {
            "upstream": f"""server {{ listen 127.0.0.1:{up}; location / {{ default_type application/json; return 200 '{{"predictions":[1]}}'; }} }}""",
            "proxy": proxy(px),
            "proxy-cg": proxy(px_cg),
        }
        pids = {}
        for role, server in servers.items():
            d = os.path.join(tmp, role)
            os.mkdir(d)
            conf = os.path.join(d, "nginx.conf")
            # Under callgrind the workers keep the master's user: callgrind_control cannot
            # reach a process that changed its user.
            user = "user root; " if role == "proxy-cg" and os.geteuid() == 0 else ""
            with open(conf, "w") as f:
                f.write(f"""{user}worker_processes 2; daemon off; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
  {server}
}}
""")
            if role == "proxy-cg":  # started under callgrind by --instructions
                continue
            p = subprocess.Popen([nginx, "-c", conf, "-p", d], stderr=subprocess.DEVNULL)
            procs.append(p)
            pids[role] = p.pid
        wait_port(up)
        wait_port(px)

        rng = random.Random(0)
        rows = [[rng.gauss(0, 1) for _ in range(64)] for _ in range(2000)]
        with open(os.path.join(tmp, "train.csv"), "w") as f:
            for r in rows:
                f.write(",".join(f"{v:.5f}" for v in r) + "\n")
        subprocess.run([args.palisade, "guard", "profile", "--data", os.path.join(tmp, "train.csv"),
                        "--out", os.path.join(tmp, "profile.json")], check=True, capture_output=True)
        import hashlib
        h = lambda k: hashlib.sha256(k.encode()).hexdigest()
        gd0, ad0, gl, al = free_port(), free_port(), free_port(), free_port()
        models = {True: """[[models]]
name = "m"
route = "/predict"
input = "/features"
output = "/predictions"
profile = "profile.json"
[models.screening]
flag_above = "p99.9"
[models.drift]
window = 1000
""", False: """[[models]]
name = "m"
route = "/predict"
input = "/features"
"""}
        for name, port, admin, delay, screened in (("guard.toml", gd, ad, None, True),
                                                   ("guard-no-delay.toml", gd0, ad0, 0, True),
                                                   ("guard-limits.toml", gl, al, None, False)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(f"""[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
[upstream]
url = "http://127.0.0.1:{up}"
protocol = "json"
max_connections = 128
[limits]
requests_per_second = 1000000
burst = 100000
max_concurrent = 256
{"" if delay is None else f"refusal_delay_ms = {delay}"}
[[tenants]]
name = "a"
api_key_sha256 = "{h(KEY_A)}"
[[tenants]]
name = "b"
api_key_sha256 = "{h(KEY_B)}"
requests_per_second = 200
burst = 50
{models[screened]}""")
        guard_cmd = lambda cfg: [args.palisade, "guard", "run", "--config", os.path.join(tmp, cfg)]

        def start_guard(cfg, port):
            p = subprocess.Popen(guard_cmd(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_port(port)
            return p

        guard = start_guard("guard.toml", gd)
        # The same guard without refusal_delay_ms, for the noisy-neighbour comparison only.
        start_guard("guard-no-delay.toml", gd0)
        # And one without screening or drift, for the cost of the HTTP path alone.
        limits_only = start_guard("guard-limits.toml", gl)
        pids["proxy"] = with_children(pids["proxy"])
        pids["upstream"] = with_children(pids["upstream"])

        body = '{"features": [[' + ",".join(f"{v:.4f}" for v in rows[0]) + "]]}"
        s_plain = script(os.path.join(tmp, "plain.lua"), None, body)
        s_a = script(os.path.join(tmp, "a.lua"), KEY_A, body)
        s_b = script(os.path.join(tmp, "b.lua"), KEY_B, body)
        targets = [("direct", f"http://127.0.0.1:{up}/predict", s_plain, pids["upstream"]),
                   ("nginx", f"http://127.0.0.1:{px}/predict", s_plain, pids["proxy"]),
                   ("guard", f"http://127.0.0.1:{gd}/predict", s_a, [guard.pid]),
                   ("guard-limits", f"http://127.0.0.1:{gl}/predict", s_a, [limits_only.pid])]
        for _, url, s, _ in targets:  # warm up
            wrk(url, s, 8, 1, 2)

        rounds = max(1, args.rounds)
        print(f"wrk, {args.seconds} s per run, {rounds} round(s), {os.cpu_count()} cores shared by every process")
        print(f"guard binary: {os.path.relpath(args.palisade)}")
        print()
        runs = {name: [] for name, _, _, _ in targets}
        for _ in range(rounds):
            for name, url, s, cpu_pids in targets:
                u0, s0 = cpu_seconds(cpu_pids)
                t = wrk(url, s, 32, 2, args.seconds)
                u1, s1 = cpu_seconds(cpu_pids)
                n = t["requests"]
                runs[name].append((t, (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6))
        # Latency at one connection, also in rounds through the paths: one run's p99 moves by
        # hundreds of µs with the machine's load, so what a proxy adds is taken against the
        # direct run of the same round, and the median of the rounds is the result.
        single = {name: [] for name, _, _, _ in targets}
        for _ in range(rounds):
            for name, url, s, _ in targets:
                single[name].append(wrk(url, s, 1, 1, args.seconds))
        median = lambda xs: sorted(xs)[len(xs) // 2]
        print("| path | throughput (32 conns, req/s, median run) | CPU per request in that run (user + kernel) | every run (req/s) | p50 (1 conn, median run) | p99 (1 conn, median run) | non-2xx |")
        print("|---|---|---|---|---|---|---|")
        for name, _, _, _ in targets:
            ordered = sorted(runs[name], key=lambda r: r[0]["rps"])
            t, user, kernel = ordered[len(ordered) // 2]
            every = " / ".join(f"{r[0]['rps']:.0f}" for r in runs[name])
            non2xx = sum(r[0]["non2xx"] for r in runs[name]) + sum(o["non2xx"] for o in single[name])
            p50 = median([o["p50"] for o in single[name]])
            p99 = median([o["p99"] for o in single[name]])
            print(f"| {name} | {t['rps']:.0f} | {user:.1f} + {kernel:.1f} µs | {every} | {p50*1e6:.0f} µs | {p99*1e6:.0f} µs | {non2xx} |")
        print()
        ratios = [g[0]["rps"] / ng[0]["rps"] for g, ng in zip(runs["guard"], runs["nginx"])]
        print("guard / nginx throughput by round: " + ", ".join(f"{r:.2f}" for r in ratios)
              + f" (median {median(ratios):.2f})")

        def added(name, q):
            by_round = [(o[q] - d[q]) * 1e6 for o, d in zip(single[name], single["direct"])]
            return median(by_round), ", ".join(f"{a:.0f}" for a in by_round)

        (g50, g50s), (g99, g99s) = added("guard", "p50"), added("guard", "p99")
        (n50, n50s), (n99, n99s) = added("nginx", "p50"), added("nginx", "p99")
        print(f"guard added latency at 1 connection (against direct in the same round; median of rounds): "
              f"p50 {g50:.0f} µs ({g50s}), p99 {g99:.0f} µs ({g99s}); "
              f"nginx adds {n50:.0f} µs ({n50s}) and {n99:.0f} µs ({n99s})")

        if args.instructions:
            # Fresh processes under callgrind, one at a time (the others idle meanwhile).
            print()
            print("| path | user-space instructions per request (callgrind, 8 conns) | of them, a portable SHA-256 that runs only under valgrind | requests counted |")
            print("|---|---|---|---|")
            gl_cg, gd_cg = free_port(), free_port()
            for name, cfg, port in (("guard", "guard.toml", gd_cg), ("guard-limits", "guard-limits.toml", gl_cg)):
                with open(os.path.join(tmp, cfg)) as f:
                    text = f.read()
                # Its own port (and no admin port): a guard that did not start under callgrind
                # must not leave wrk counting another guard's answers.
                text, n = re.subn(r'listen = "127.0.0.1:\d+"\nadmin_listen = "127.0.0.1:\d+"',
                                  f'listen = "127.0.0.1:{port}"', text)
                assert n == 1, f"{cfg}: no listen/admin_listen pair to replace"
                with open(os.path.join(tmp, "cg-" + cfg), "w") as f:
                    f.write(text)
            cg_runs = (("nginx", [nginx, "-c", os.path.join(tmp, "proxy-cg", "nginx.conf"), "-p", os.path.join(tmp, "proxy-cg")], px_cg, s_plain),
                    ("guard", guard_cmd("cg-guard.toml"), gd_cg, s_a),
                    ("guard-limits", guard_cmd("cg-guard-limits.toml"), gl_cg, s_a))
            for name, cmd, port, s in cg_runs:
                per, only_here, n = instructions(cmd, port, f"http://127.0.0.1:{port}/predict", s, args.seconds,
                                                 os.path.join(tmp, "callgrind-" + name))
                print(f"| {name} | {per:,.0f} | {only_here:,.0f} | {n} |")
            print()

        # Memory under a sustained load.
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_kib(guard.pid))
                time.sleep(1)

        th = threading.Thread(target=sample)
        th.start()
        sustained = wrk(f"http://127.0.0.1:{gd}/predict", s_a, 32, 2, args.seconds * 3)
        stop.set()
        th.join()
        third = max(1, len(samples) // 3)
        print(f"guard memory over {args.seconds * 3} s at {sustained['rps']:.0f} req/s: RSS {samples[0]/1024:.1f} MiB at the start, "
              f"{max(samples[:third])/1024:.1f} MiB max in the first third, {max(samples[-third:])/1024:.1f} MiB max in the last third")

        # Noisy neighbour: B floods closed-loop on 64 connections, retrying at once on every 429.
        # A's p99 alone moves between runs on a shared machine by as much as B's flood moves it,
        # so A is measured in --rounds pairs (alone, then while B floods), each pair's ratio is
        # shown, and the median ratio is the result.
        for label, port in (("default refusal_delay_ms (250)", gd), ("refusal_delay_ms = 0", gd0)):
            pairs = []
            for _ in range(rounds):
                alone = wrk(f"http://127.0.0.1:{port}/predict", s_a, 1, 1, args.seconds)
                result = {}

                def flood():
                    result["b"] = wrk(f"http://127.0.0.1:{port}/predict", s_b, 64, 1, args.seconds + 2)

                fb = threading.Thread(target=flood)
                fb.start()
                time.sleep(1)
                loaded = wrk(f"http://127.0.0.1:{port}/predict", s_a, 1, 1, args.seconds)
                fb.join()
                pairs.append((alone, loaded, result["b"]))
            print(f"noisy neighbour, {label}:")
            for alone, loaded, b in pairs:
                print(f"  tenant A alone p50 {alone['p50']*1e6:.0f} µs, p99 {alone['p99']*1e6:.0f} µs; "
                      f"while B floods ({b['rps']:.0f} req/s, {b['non2xx']} refused) p50 {loaded['p50']*1e6:.0f} µs, "
                      f"p99 {loaded['p99']*1e6:.0f} µs ({loaded['p99'] / alone['p99']:.2f}x); A refused: {loaded['non2xx']}")
            ratio = median([loaded["p99"] / alone["p99"] for alone, loaded, _ in pairs])
            print(f"  A's p99 loaded / alone, median of {len(pairs)} pair(s): {ratio:.2f}x")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
