#!/usr/bin/env python3
"""The deployed system end to end, with real processes on 127.0.0.1 (CTest e2e_deploy_cluster).

Two coordinators serve the synthetic tiny model with the Llama 3 tokenizer:
  A: `mixserve serve` as one process (TP=1);
  B: `mpirun -np 5 mixserve serve --tp 2 --dp 2` (a coordinator and four CPU workers, two replicas of TP=2).
Then, in order:
  1. greedy completions from A and B are identical (TP=2 over MPI equals the single process);
  2. nginx (Debian package) with deploy/nginx/mixserve.conf in front of A and B carries streams end to end,
     event by event, and least_conn spreads them over both coordinators;
  3. Prometheus (Debian package) scrapes both with deploy/prometheus/prometheus.yml and alerts.yml, and its
     sum of mixserve_generation_tokens_total equals the completion tokens this test was told it got;
  4. bad input against A: each gets its status and OpenAI error JSON; a client disconnects mid-stream; 200
     concurrent streams all finish; afterwards no sequence runs and no KV block is held (/metrics), and A
     still answers; `promtool check metrics` passes on both /metrics, `promtool check rules` on alerts.yml;
  5. SIGKILL of one worker of B fails that replica's in-flight streams with an error naming the rank, while
     B's coordinator and its other replica keep serving.
Every wait is bounded. Usage: deploy_cluster_test.py path/to/mixserve (from the repository root or anywhere).
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_NAME = "tiny"
failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=120, raw_body=None):
    """One request on a fresh connection; returns (status, headers dict, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    headers = {"content-type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, text


def stream(port, body, timeout=300, on_event=None):
    """A streaming completion; returns (status, [payload, ...], [arrival seconds, ...])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"content-type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        text = r.read().decode()
        conn.close()
        return r.status, [text], []
    payloads, times, start = [], [], time.monotonic()
    while True:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("data: "):
            payloads.append(line[6:])
            times.append(time.monotonic() - start)
            if on_event:
                on_event(payloads[-1])
            if payloads[-1] == "[DONE]":
                break
    conn.close()
    return 200, payloads, times


def metric_sum(text, name, label_filter=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if label_filter in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def error_of(text):
    try:
        return json.loads(text).get("error", {})
    except ValueError:
        return {}


class Server:
    """A `mixserve serve` (or an mpirun of it) that logs its port once ready."""

    def __init__(self, name, argv, log_path):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = None

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_ready(self, seconds=180):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = re.search(r"ready: serving the OpenAI API on http://127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.25)
        print(f"{self.name} did not become ready; its log:\n{self.text()}", flush=True)
        return False

    def worker_pids(self):
        """{replica: [pid, ...]} from the coordinator's `replica N: rank ..., pid P, ...` lines."""
        out = {}
        for m in re.finditer(r"replica (\d+):(.*)", self.text()):
            pids = [int(p) for p in re.findall(r"pid (\d+)", m.group(2))]
            if pids:
                out[int(m.group(1))] = pids
        return out

    def stop(self, sig=signal.SIGTERM, seconds=60):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


def greedy_body(prompt, max_tokens=12):
    return {"model": MODEL_NAME, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
            "ignore_eos": True, "logprobs": 1}


def test_tp2_matches_single_process(a, b):
    prompts = ["The quick brown fox", "Once upon a time, in a land", "1, 2, 3,", [9906, 1917, 0, 11, 374]]
    for prompt in prompts:
        sa, _, ta = request(a.port, "POST", "/v1/completions", greedy_body(prompt))
        sb, _, tb = request(b.port, "POST", "/v1/completions", greedy_body(prompt))
        if not check(sa == 200 and sb == 200, f"greedy {prompt!r}: both answer 200 ({sa}, {sb})"):
            print(ta, tb)
            continue
        ca, cb = json.loads(ta)["choices"][0], json.loads(tb)["choices"][0]
        check(ca["logprobs"]["tokens"] == cb["logprobs"]["tokens"] and ca["text"] == cb["text"],
              f"greedy {prompt!r}: TP=2 over MPI gives the single process' tokens {ca['logprobs']['tokens']}")
        worst = max(abs(x - y) for x, y in zip(ca["logprobs"]["token_logprobs"], cb["logprobs"]["token_logprobs"]))
        check(worst < 1e-3, f"greedy {prompt!r}: logprobs agree to {worst:.2e}")


def write_nginx_conf(work, ports):
    conf = open(os.path.join(REPO, "deploy/nginx/mixserve.conf")).read()
    listen = free_port()
    conf = conf.replace("server 127.0.0.1:8000", f"server 127.0.0.1:{ports[0]}")
    conf = conf.replace("server 127.0.0.1:8001", f"server 127.0.0.1:{ports[1]}")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    os.makedirs(os.path.join(work, "nginx/logs"), exist_ok=True)
    site = os.path.join(work, "nginx/mixserve.conf")
    open(site, "w").write(conf)
    main = os.path.join(work, "nginx/nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""
    open(main, "w").write(
        f"{user}worker_processes 1;\npid {work}/nginx/nginx.pid;\nerror_log {work}/nginx/logs/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n  access_log {work}/nginx/logs/access.log;\n"
        f"  client_body_temp_path {work}/nginx/body;\n  proxy_temp_path {work}/nginx/proxy;\n"
        f"  include {site};\n}}\n")
    return main, listen


def test_nginx(work, a, b):
    main, port = write_nginx_conf(work, [a.port, b.port])
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check(subprocess.run([nginx, "-t", "-c", main, "-p", work + "/nginx"], capture_output=True).returncode == 0,
          "nginx -t accepts deploy/nginx/mixserve.conf")
    proc = subprocess.Popen([nginx, "-c", main, "-p", work + "/nginx", "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    generated = 0
    try:
        for _ in range(100):
            try:
                if request(port, "GET", "/ready", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        before = [metric_sum(request(s.port, "GET", "/metrics")[2], "mixserve_request_success_total")
                  for s in (a, b)]
        body = {"model": MODEL_NAME, "prompt": "Through the proxy", "max_tokens": 48, "ignore_eos": True,
                "stream": True, "stream_options": {"include_usage": True}}
        # Six streams at once: least_conn must give each coordinator some.
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: stream(port, body), range(6)))
        for status, payloads, times in results:
            ok = status == 200 and payloads and payloads[-1] == "[DONE]"
            check(ok, f"a stream through nginx ends with [DONE] ({status}, {len(payloads)} events)")
            if not ok:
                continue
            usage = json.loads(payloads[-2])["usage"]
            generated += usage["completion_tokens"]
            check(usage["completion_tokens"] == 48, "its usage chunk counts 48 completion tokens")
            text_events = [p for p in payloads[:-2] if json.loads(p)["choices"][0]["text"]]
            # Unbuffered: events arrive spread over the generation, not in one burst at the end.
            check(len(text_events) >= 10 and times[0] < times[-1] * 0.8,
                  f"events arrive as generated ({len(text_events)} text events, first at {times[0]:.2f} s of "
                  f"{times[-1]:.2f} s)")
        after = [metric_sum(request(s.port, "GET", "/metrics")[2], "mixserve_request_success_total")
                 for s in (a, b)]
        check(all(x > y for x, y in zip(after, before)), f"least_conn spread the streams over both ({before} -> {after})")
    finally:
        proc.terminate()
        proc.wait(20)
    return generated


def promtool_checks(work, servers):
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    for s in servers:
        _, _, text = request(s.port, "GET", "/metrics")
        r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
        check(r.returncode == 0, f"promtool check metrics passes on {s.name}'s /metrics "
                                 f"{(r.stdout + r.stderr).decode().strip()}")
    r = subprocess.run([promtool, "check", "rules", os.path.join(REPO, "deploy/prometheus/alerts.yml")],
                       capture_output=True)
    check(r.returncode == 0, "promtool check rules passes on deploy/prometheus/alerts.yml " + r.stdout.decode()[-200:])


def prometheus_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        result = json.load(r)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus(work, servers, expected_tokens):
    """Prometheus with deploy/'s config (targets and interval changed) sees exactly the generated tokens."""
    conf = open(os.path.join(REPO, "deploy/prometheus/prometheus.yml")).read()
    targets = "\n".join(f"          - 127.0.0.1:{s.port}" for s in servers)
    conf = re.sub(r"(      - targets:\n)(          - .*\n)+", lambda m: m.group(1) + targets + "\n", conf)
    conf = conf.replace("scrape_interval: 5s", "scrape_interval: 1s")
    conf = conf.replace("- alerts.yml", "- " + os.path.join(REPO, "deploy/prometheus/alerts.yml"))
    path = os.path.join(work, "prometheus.yml")
    open(path, "w").write(conf)
    port = free_port()
    proc = subprocess.Popen([shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={path}",
                             f"--storage.tsdb.path={work}/tsdb", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "prometheus.log"), "w"))
    try:
        got, up = None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                up = prometheus_query(port, 'sum(up{job="mixserve"})')
                got = prometheus_query(port, "sum(mixserve_generation_tokens_total)")
                if up == len(servers) and got == expected_tokens:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        check(up == len(servers), f"Prometheus scrapes every coordinator (up = {up})")
        check(got == expected_tokens,
              f"Prometheus' sum(mixserve_generation_tokens_total) = {got}, tokens this test generated = "
              f"{expected_tokens}")
    finally:
        proc.terminate()
        proc.wait(30)


def expect_error(port, body, status, what, path="/v1/completions", raw=None):
    got, _, text = request(port, "POST", path, body, raw_body=raw)
    err = error_of(text)
    check(got == status and isinstance(err.get("message"), str) and err.get("message"),
          f"{what}: {got} with an error message ({err.get('message', text[:120])!r})")


def test_bad_input(a, max_len):
    expect_error(a.port, None, 400, "malformed JSON", raw='{"prompt": "x",')
    expect_error(a.port, {"model": MODEL_NAME, "prompt": 7.5}, 400, "a prompt of the wrong type")
    expect_error(a.port, {"model": MODEL_NAME, "prompt": "x", "max_tokens": "ten"}, 400, "max_tokens as a string")
    expect_error(a.port, {"model": MODEL_NAME, "prompt": "x", "max_tokens": -5}, 400, "negative max_tokens")
    expect_error(a.port, {"model": MODEL_NAME, "prompt": "x", "temperature": 3.5}, 400, "temperature 3.5")
    expect_error(a.port, {"model": MODEL_NAME, "prompt": "word " * (max_len + 10)}, 400,
                 "a prompt longer than the context")
    expect_error(a.port, {"model": "no-such-model", "prompt": "x"}, 404, "an unknown model")
    expect_error(a.port, {"model": MODEL_NAME, "messages": "hi"}, 400, "chat messages of the wrong type",
                 path="/v1/chat/completions")
    big = '{"model": "tiny", "prompt": "' + "a" * (10 << 20) + '"}'
    try:
        expect_error(a.port, None, 413, "a 10 MB body", raw=big)
    except (BrokenPipeError, ConnectionResetError) as e:  # the server may answer and close before reading it all
        check(False, f"a 10 MB body: the connection broke ({e})")

    # A client that disconnects mid-stream.
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
    conn.request("POST", "/v1/completions", json.dumps(
        {"model": MODEL_NAME, "prompt": "gone", "max_tokens": 2000, "ignore_eos": True, "stream": True}),
        {"content-type": "application/json"})
    r = conn.getresponse()
    check(r.status == 200 and r.readline().startswith(b"data: "), "a stream starts before its client leaves")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()

    # 200 concurrent streams.
    def one(i):
        body = {"model": MODEL_NAME, "prompt": f"storm {i}", "max_tokens": 1 + i % 16, "ignore_eos": True,
                "stream": True, "stream_options": {"include_usage": True}}
        status, payloads, _ = stream(a.port, body)
        ok = status == 200 and len(payloads) >= 2 and payloads[-1] == "[DONE]"
        return ok and json.loads(payloads[-2])["usage"]["completion_tokens"] == 1 + i % 16, 1 + i % 16

    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        results = list(pool.map(one, range(200)))
    check(all(ok for ok, _ in results), f"200 concurrent streams: {sum(ok for ok, _ in results)} finished whole")

    deadline, running, used = time.monotonic() + 60, None, None
    while time.monotonic() < deadline:
        text = request(a.port, "GET", "/metrics")[2]
        running = metric_sum(text, "mixserve_num_requests_running")
        used = metric_sum(text, "mixserve_kv_cache_usage_perc")
        if running == 0 and used == 0:
            break
        time.sleep(0.25)
    check(running == 0 and used == 0, f"after the storm nothing runs ({running}) and no KV block is held ({used})")
    status, _, text = request(a.port, "POST", "/v1/completions", greedy_body("still there?", 4))
    check(status == 200, f"A still serves after the bad input ({status})")


def test_kill_worker(b):
    pids = b.worker_pids()
    if not check(sorted(pids) == [0, 1] and all(len(p) == 2 for p in pids.values()),
                 f"B's log names both replicas' worker pids {pids}"):
        return
    body = {"model": MODEL_NAME, "prompt": "long", "max_tokens": 3000, "ignore_eos": True, "stream": True}
    started = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(stream, b.port, body, 300, lambda p: started.append(p)) for _ in range(4)]
        deadline = time.monotonic() + 60
        while len(started) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
        victim = pids[0][1]
        os.kill(victim, signal.SIGKILL)
        print(f"killed worker pid {victim} (replica 0, tensor rank 1)", flush=True)
        results = [f.result() for f in futures]
    errors = [p for _, payloads, _ in results for p in payloads if p.startswith("{") and "error" in json.loads(p)]
    check(len(errors) >= 1 and all(str(victim) in p or "rank 2" in p for p in errors),
          f"the lost replica's streams end with an error naming the rank: {errors[:1]}")
    status, _, text = request(b.port, "POST", "/v1/completions", greedy_body("after the loss", 6))
    check(status == 200, f"B's coordinator and its other replica keep serving ({status}: {text[:160]})")
    for _ in range(3):
        status, _, _ = request(b.port, "POST", "/v1/completions", greedy_body("and again", 3))
        check(status == 200, f"another request after the loss is served ({status})")


def main():
    mixserve = os.path.realpath(sys.argv[1])
    subprocess.run(["bash", os.path.join(REPO, "deploy/fetch-tokenizers.sh")], check=True, stdout=subprocess.DEVNULL)
    tokenizer = os.path.join(REPO, "third_party/tokenizers/llama3")
    work = tempfile.mkdtemp(prefix="mixserve-deploy-")
    servers = []
    try:
        model = os.path.join(work, "tiny")
        subprocess.run([mixserve, "synth", "--out", model, "--preset", "tiny", "--seed", "3"], check=True,
                       stdout=subprocess.DEVNULL)
        common = ["serve", "--model", model, "--tokenizer", tokenizer, "--served-model-name", MODEL_NAME,
                  "--port", "0", "--kv-tokens", "16384", "--drain-timeout", "5"]
        env_mpirun = ["env", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_rmaps_base_oversubscribe=1",
                      "mpirun", "--oversubscribe", "--bind-to", "none", "--enable-recovery", "-np", "5"]
        a = Server("A", [mixserve] + common + ["--threads", "1"], os.path.join(work, "a.log"))
        b = Server("B", env_mpirun + [mixserve] + common + ["--tp", "2", "--dp", "2", "--threads", "1",
                                                          "--peer-timeout-ms", "3000"], os.path.join(work, "b.log"))
        servers = [a, b]
        if not (check(a.wait_ready(), "A (one process) is ready") and check(b.wait_ready(), "B (mpirun) is ready")):
            return 1
        max_len = json.loads(request(a.port, "GET", "/v1/models")[2])["data"][0].get("max_model_len", 8192)

        test_tp2_matches_single_process(a, b)
        generated = 2 * 4 * 12  # the greedy requests above: 4 prompts x 12 tokens on each server
        generated += test_nginx(work, a, b)
        # Before the bad input: a stream cut by its client generates a few tokens nobody receives.
        test_prometheus(work, servers, generated)
        test_bad_input(a, max_len)
        promtool_checks(work, servers)
        test_kill_worker(b)
        check(a.stop() == 0, "A drains and exits 0 on SIGTERM")
        b.stop()
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop(signal.SIGKILL, 10)
        if failures:
            for s in servers:
                print(f"--- {s.name} log (tail) ---\n{s.text()[-4000:]}")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failures" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
