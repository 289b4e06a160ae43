#!/usr/bin/env python3
"""The proxy side by side with a direct call and with nginx, measured in one run.

    python3 bench/proxy.py                       # SQLite (the embedded default)
    DATABASE_URL=postgres://... python3 bench/proxy.py
    python3 bench/proxy.py --users 100           # the calls spread over 100 users
    python3 bench/proxy.py --upstream-delay 50 --connections 256   # a slow upstream
    python3 bench/proxy.py --gateway             # /v1/chat/completions (the OpenAI-compatible endpoint)
    python3 bench/proxy.py --claude [--gateway]  # Anthropic's API: /proxy/claude/v1/messages, or /v1 translated
    python3 bench/proxy.py --writer 30           # does the usage writer keep up? (rows/s written at peak load)

Installs nginx and wrk from Debian when missing, builds the release server, and starts:
  - a static mock upstream: nginx answering /v1/chat/completions with canned OpenAI JSON, or with a
    canned SSE stream when the request accepts text/event-stream (with --claude: /v1/messages with
    Anthropic's JSON and stream);
  - nginx as a reverse proxy to it (HTTP/1.1 keep-alive upstream connections, access log on);
  - our server (release) with the whole pipeline on: JWT auth with the revocation check, IP rules
    (an allow rule for loopback and a deny rule), per-IP and per-user rate limits set high, quota
    admission in the database, usage recording, access log.
Then it runs wrk against the three, alternating in every round, and prints the median of the
rounds: requests/s and p50/p99 at 32 connections (--connections), p50 at 1 connection, non-streamed and streamed;
the time to the first SSE event at 1 connection; CPU per request; our peak RSS; the ratios to
nginx. With --upstream-delay the mock answers after that many milliseconds (nginx's echo module),
so throughput is bounded by the connections in flight, not by CPU. It stops everything it started.
Method and figures: docs/performance.md."""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_KEY = "bench-admin-key-" + "0123456789abcdef" * 2
PROVIDER_KEY = "sk-bench-" + "5" * 40
TICKS = os.sysconf("SC_CLK_TCK")

COMPLETION = {
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1764400000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"}, "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}


def sse_stream():
    words = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
    events = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1764400000, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1764400000, "model": "gpt-4o-mini",
                   "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}})
    return "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events) + "data: [DONE]\n\n"


MESSAGE = {
    "id": "msg-bench", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
    "content": [{"type": "text", "text": "Hello! How can I help you today?"}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 9},
}


def anthropic_stream():
    """Anthropic's stream of the same answer, event by event as its documentation shows it."""
    words = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
    start = dict(MESSAGE, content=[], stop_reason=None, usage={"input_tokens": 12, "output_tokens": 1})
    events = [("message_start", {"type": "message_start", "message": start}),
              ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 9}}),
               ("message_stop", {"type": "message_stop"})]
    return "".join(f"event: {name}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n" for name, e in events)


def nginx_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"


def ensure_tools(echo):
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}")]
    if echo and not os.path.exists(ECHO_MODULE):
        missing.append("echo")
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        print(f"installing {', '.join(missing)} from Debian", file=sys.stderr)
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        packages = [{"nginx": "nginx-light", "echo": "libnginx-mod-http-echo"}.get(m, m) for m in missing]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + packages, check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("wrk")


def nginx_conf(work, name, port, body, modules=""):
    prefix = os.path.join(work, name)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = f"""{user}
{modules}
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
{body}
    }}
}}
"""
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return prefix, path


def start_nginx(nginx, prefix, conf):
    return subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_http(url, headers=None, timeout=60, data=None):
    deadline = time.time() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {}, data=data)
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.read()
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def call(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def parse_duration(value, unit):
    return float(value) * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


def run_wrk(wrk, script, url, connections, seconds):
    threads = 1 if connections == 1 else 2
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        result[f"p{pct}"] = parse_duration(m.group(1), m.group(2))
    m = re.search(r"(\d+) requests in", out)
    result["requests"] = int(m.group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["bad"] = int(bad.group(1)) if bad else 0
    if errors and re.search(r"[1-9]", errors.group(1).split("timeout")[0]):
        result["bad"] += 1
        print(f"wrk socket errors on {url}: {errors.group(1)}", file=sys.stderr)
    return result


def usage_rows(base, admin):
    """The usage rows written so far (the row list's total: exact without bounds)."""
    return call(base, "GET", "/analytics/usage?limit=1", headers=admin)["total"]


def measure_writer(wrk, script, url, base, admin, connections, seconds):
    """Loads ours for `seconds` and follows the usage rows written, twice a second: if the writer
    keeps up, the rows trail the requests by about one linger (20 ms) and drain at once."""
    time.sleep(1)  # the warm-up's rows are written
    start = usage_rows(base, admin)
    load = subprocess.Popen([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, url], stdout=subprocess.PIPE, text=True)
    began = time.time()
    samples = []
    while load.poll() is None:
        time.sleep(0.5)
        samples.append((time.time() - began, usage_rows(base, admin) - start))
    ended = time.time()
    at_end = usage_rows(base, admin) - start
    served = int(re.search(r"(\d+) requests in", load.stdout.read()).group(1))
    while usage_rows(base, admin) - start < served and time.time() - ended < 60:
        time.sleep(0.02)
    drained = time.time() - ended
    written = usage_rows(base, admin) - start
    steady = [rows for t, rows in samples if 1 <= t <= seconds - 1]
    slope = (steady[-1] - steady[0]) / (0.5 * (len(steady) - 1)) if len(steady) > 1 else 0
    print(f"served {served} requests in {seconds} s ({served / seconds:.0f}/s); usage rows written {slope:.0f}/s in steady load; "
          f"{max(0, served - at_end)} rows queued when the load stopped, drained in {drained * 1000:.0f} ms; {written} of {served} rows written")


def quota_used(standing):
    return standing["day"]["requests"]["used"]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / TICKS


def nginx_pids(master):
    pids = [master.pid]
    try:
        with open(f"/proc/{master.pid}/task/{master.pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except FileNotFoundError:
        pass
    return pids


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def first_event_us(port, path, headers, body, count):
    """Time from the request's last byte to the first `data:` byte, over one keep-alive connection."""
    payload = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(payload)}\r\n\r\n"
    request = head.encode() + payload
    samples = []
    connection = None
    for _ in range(count):
        for attempt in (1, 2):
            # A server that closes the connection after a stream costs a reconnect, which is timed.
            started = time.perf_counter_ns()
            if connection is None:
                connection = socket.create_connection(("127.0.0.1", port))
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.sendall(request)
            buffer, first = b"", None
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                if first is None and b"data:" in buffer:
                    first = time.perf_counter_ns()
                if (b"data: [DONE]" in buffer or b'"message_stop"' in buffer) and (b"\r\n0\r\n\r\n" in buffer or b"Content-Length" in buffer.split(b"\r\n\r\n")[0]):
                    break
            if chunk:
                break
            connection.close()
            connection = None
            if first is not None:
                break
            if attempt == 2:
                raise RuntimeError(f"port {port}: connection closed after {buffer[:300]!r}")
        samples.append((first - started) / 1000)
    if connection:
        connection.close()
    return statistics.median(samples)


def overhead_us(port, path, headers, body, count):
    """The bridge's own time per call as it reports it (`x-safeapi-overhead-us`), over one keep-alive connection."""
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", port)
    payload = json.dumps(body).encode()
    samples = []
    for _ in range(count):
        connection.request("POST", path, body=payload, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read()
        value = response.getheader("x-safeapi-overhead-us")
        if value is None:  # a build from before the header
            connection.close()
            return None
        samples.append(int(value))
    connection.close()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
{extra}
"""

# With --users N: each request in turn carries the next user's token (built per request by wrk).
WRK_USERS = """tokens = {{{tokens}}}
counter = 0
request = function()
    counter = counter + 1
    wrk.headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
    return wrk.format()
end
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; every round measures the three targets in turn")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/safeapi-bridge"))
    parser.add_argument("--no-build", action="store_true", help="use the binary as it is")
    parser.add_argument("--only", choices=["plain", "stream"], help="one of the two request kinds")
    parser.add_argument("--users", type=int, default=1, help="spread the calls over this many users, round robin (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections for the loaded figures (default 32)")
    parser.add_argument("--gateway", action="store_true", help="measure our OpenAI-compatible /v1/chat/completions (model openai/gpt-4o-mini) instead of /proxy/openai/…")
    parser.add_argument("--claude", action="store_true", help="Anthropic's API: the mock answers /v1/messages; ours is /proxy/claude/v1/messages, or with --gateway /v1/chat/completions translated (model claude/claude-3-5-haiku-latest)")
    parser.add_argument("--upstream-delay", type=int, default=0, metavar="MS", help="the mock upstream answers after this many milliseconds (default 0)")
    parser.add_argument("--writer", type=int, metavar="SECONDS", help="instead of the table: load ours alone for this long (non-streamed, --connections) and report the requests served, the usage rows written per second, the backlog when the load stops and how long it takes to drain")
    parser.add_argument("--serve", action="store_true", help="set everything up, print the URLs and the token, and wait (for experiments)")
    parser.add_argument("--profile", metavar="FILE", help="instead of the table: record a CPU profile of our server under --connections (needs perf: apt-get install linux-perf)")
    args = parser.parse_args()

    nginx, wrk = ensure_tools(args.upstream_delay > 0)
    if not args.no_build:
        print("building the release server", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--product", "safeapi-bridge"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="safeapi-bench-")
    processes = []
    try:
        mock_port, nginx_port, our_port = free_port(), free_port(), free_port()
        # The canned answers, at once (`return`) or after the delay (the echo module's `echo_sleep`).
        if args.claude:
            completion, stream = nginx_string(json.dumps(MESSAGE, separators=(',', ':'))), nginx_string(anthropic_stream())
        else:
            completion, stream = nginx_string(json.dumps(COMPLETION, separators=(',', ':'))), nginx_string(sse_stream())
        upstream_path = "/v1/messages" if args.claude else "/v1/chat/completions"
        if args.upstream_delay:
            answer = lambda text: f"echo_sleep {args.upstream_delay / 1000}; echo -n {text};"
        else:
            answer = lambda text: f"return 200 {text};"
        mock = nginx_conf(work, "mock", mock_port, f"""
        access_log off;
        location = {upstream_path} {{
            if ($http_accept ~ event-stream) {{ rewrite ^ /sse last; }}
            default_type application/json;
            add_header x-request-id req_bench;
            {answer(completion)}
        }}
        location = /sse {{
            internal;
            default_type text/event-stream;
            {answer(stream)}
        }}""", modules=f"load_module {ECHO_MODULE};" if args.upstream_delay else "")
        proxy = nginx_conf(work, "proxy", nginx_port, f"""
        access_log {work}/proxy/logs/access.log;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}""")
        # The upstream block belongs in http{}, before the server.
        with open(proxy[1]) as f:
            text = f.read()
        text = text.replace("    server {", f"    upstream mock {{ server 127.0.0.1:{mock_port}; keepalive 64; }}\n    server {{", 1)
        with open(proxy[1], "w") as f:
            f.write(text)
        mock_process = start_nginx(nginx, *mock)
        processes.append(mock_process)
        nginx_process = start_nginx(nginx, *proxy)
        processes.append(nginx_process)

        env = dict(os.environ, DATA_DIR=os.path.join(work, "data"), PORT=str(our_port), ADMIN_API_KEY=ADMIN_KEY,
                   OPENAI_API_KEY=PROVIDER_KEY, OPENAI_BASE_URL=f"http://127.0.0.1:{mock_port}/v1",
                   CLAUDE_API_KEY=PROVIDER_KEY, CLAUDE_BASE_URL=f"http://127.0.0.1:{mock_port}/v1",
                   RATE_LIMIT_MAX_REQUESTS="10000000", USER_RATE_LIMIT_MAX_REQUESTS="10000000",
                   DEFAULT_DAILY_QUOTA="1000000000", DEFAULT_MONTHLY_QUOTA="1000000000", JWT_TTL_SECONDS="86400",
                   SECURITY_LOG_FILE="false", LOG_DIR=os.path.join(work, "logs"),
                   MAX_CONNECTIONS=str(max(1024, 4 * args.connections)), MAX_CONNECTIONS_PER_ADDRESS=str(max(128, 2 * args.connections)))
        database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
        server_log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([args.binary, "serve"], env=env, stdout=server_log, stderr=subprocess.STDOUT)
        processes.append(server)
        ours = f"http://127.0.0.1:{our_port}"
        wait_http(ours + "/health")
        wait_http(f"http://127.0.0.1:{nginx_port}{upstream_path}", data=b"{}")
        admin = {"X-Admin-Key": ADMIN_KEY}
        # Fresh ids each run: a PostgreSQL database given by DATABASE_URL outlives the run.
        run_id = os.urandom(4).hex()
        app = call(ours, "POST", "/admin/apps", {"name": "bench", "appId": f"bench.{run_id}"}, admin)
        tokens = [call(ours, "POST", "/auth/token", {"userId": f"bench-user-{run_id}-{n}", "appId": f"bench.{run_id}", "appSecret": app["appSecret"]})["token"]
                  for n in range(args.users)]
        token = tokens[0]
        for rule in ({"cidr": "127.0.0.0/8", "type": "allow", "reason": "bench loopback"}, {"cidr": "203.0.113.0/24", "type": "deny", "reason": "bench deny"}):
            try:
                call(ours, "POST", "/admin/ip-rules", rule, admin)
            except urllib.error.HTTPError as error:
                if error.code != 409:  # kept from an earlier run on the same PostgreSQL database
                    raise
        time.sleep(1.5)  # the rules reach memory (IP_RULES_SYNC_MS)

        # The provider's own dialect, or (--gateway) the OpenAI-compatible endpoint where the model
        # names the provider; the mock upstreams ignore the model.
        if args.gateway:
            our_path = "/v1/chat/completions"
        else:
            our_path = "/proxy/claude/v1/messages" if args.claude else "/proxy/openai/chat/completions"
        targets = [
            ("direct", f"http://127.0.0.1:{mock_port}{upstream_path}", mock_port, upstream_path, lambda: nginx_pids(mock_process)),
            ("nginx", f"http://127.0.0.1:{nginx_port}{upstream_path}", nginx_port, upstream_path, lambda: nginx_pids(nginx_process)),
            ("ours", f"{ours}{our_path}", our_port, our_path, lambda: [server.pid]),
        ]
        # The same body to all three (the mock ignores it): OpenAI's request, or Anthropic's when
        # ours speaks Anthropic's API.
        provider = "claude" if args.claude else "openai"
        model = {"openai": "gpt-4o-mini", "claude": "claude-3-5-haiku-latest"}[provider]
        message = {"model": f"{provider}/{model}" if args.gateway else model, "messages": [{"role": "user", "content": "Say hello."}]}
        if args.claude and not args.gateway:
            message["max_tokens"] = 256
            streamed = {**message, "stream": True}
        else:
            streamed = {**message, "stream": True, "stream_options": {"include_usage": True}}
        kinds = {
            "plain": (message, ""),
            "stream": (streamed, 'wrk.headers["Accept"] = "text/event-stream"'),
        }
        if args.only:
            kinds = {args.only: kinds[args.only]}
        scripts = {}
        for kind, (body, extra) in kinds.items():
            path = os.path.join(work, f"{kind}.lua")
            with open(path, "w") as f:
                f.write(WRK_SCRIPT.format(body=json.dumps(body), token=token, extra=extra))
                if args.users > 1:
                    f.write(WRK_USERS.format(tokens=", ".join(f'"{t}"' for t in tokens)))
            scripts[kind] = path

        # Every target answers the canned completion, and the stream, before anything is measured.
        for name, url, *_ in targets:
            for accept in ("application/json", "text/event-stream"):
                try:
                    answer = wait_http(url, {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": accept},
                                       timeout=5, data=json.dumps(message).encode()).decode()
                except urllib.error.HTTPError as error:
                    sys.exit(f"{name} answered {error.code} at {url}: {error.read()[:200]!r}")
                if "-bench" not in answer or (accept == "text/event-stream") != answer.startswith(("data:", "event:")):
                    sys.exit(f"{name} did not answer the canned {accept}: {answer[:200]}")
        # Warm-up: connections, code paths, the database's pages.
        for kind, script in scripts.items():
            for name, url, *_ in targets:
                run_wrk(wrk, script, url, args.connections, 2)

        if args.writer:
            measure_writer(wrk, scripts[next(iter(scripts))], targets[2][1], ours, admin, args.connections, args.writer)
            return
        if args.serve:
            print(json.dumps({"direct": targets[0][1], "nginx": targets[1][1], "ours": targets[2][1], "base": ours, "token": token, "scripts": scripts, "pid": server.pid}), flush=True)
            server.wait()
            return
        if args.profile:
            kind, script = next(iter(scripts.items()))
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p", str(server.pid), "-o", args.profile, "--", "sleep", str(args.seconds)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            loaded = run_wrk(wrk, script, targets[2][1], args.connections, args.seconds)
            perf.wait()
            print(f"{kind}: {loaded['rps']:.0f} requests/s while profiling; `perf report -i {args.profile} --no-children`")
            return
        results = {}  # (kind, target, metric) -> [values]
        samples = 100 if args.upstream_delay else 2000  # sequential calls for the first-event and overhead figures
        def add(kind, name, metric, value):
            results.setdefault((kind, name, metric), []).append(value)
        bad = 0
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds}", file=sys.stderr)
            order = targets if round_ % 2 == 0 else list(reversed(targets))
            for kind, script in scripts.items():
                for name, url, port, path, pids in order:
                    before = cpu_seconds(pids())
                    loaded = run_wrk(wrk, script, url, args.connections, args.seconds)
                    spent = cpu_seconds(pids()) - before
                    single = run_wrk(wrk, script, url, 1, args.seconds)
                    bad += loaded["bad"] + single["bad"]
                    add(kind, name, "rps", loaded["rps"])
                    add(kind, name, "p50", loaded["p50"])
                    add(kind, name, "p99", loaded["p99"])
                    add(kind, name, "p50_1", single["p50"])
                    add(kind, name, "cpu", spent / max(loaded["requests"], 1) * 1e6)
                    if kind == "stream":
                        add(kind, name, "first", first_event_us(port, path, {"Authorization": f"Bearer {token}"}, kinds["stream"][0], samples))
        rss = peak_rss_mb(server.pid)
        reported = {kind: overhead_us(our_port, our_path, {"Authorization": f"Bearer {token}",
                                      **({"Accept": "text/event-stream"} if kind == "stream" else {})}, kinds[kind][0], samples // 2)
                    for kind in scripts}

        def median(kind, name, metric):
            return statistics.median(results[(kind, name, metric)])

        print()
        print(f"SafeAPI Bridge proxy benchmark: {database}, {os.cpu_count()} cores ({cpu_model()}), wrk on the same machine, "
              f"{args.rounds} rounds of {args.seconds} s per figure (median of rounds), {args.users} user(s)"
              + (f", upstream delay {args.upstream_delay} ms" if args.upstream_delay else ""))
        print()
        header = f"{'':34}{'direct':>12}{'nginx':>12}{'ours':>12}{'ours/nginx':>12}{'ours-direct':>13}"
        print(header)
        print("-" * len(header))
        c = args.connections
        labels = [("rps", f"requests/s, {c} connections", "{:.0f}"), ("p50", f"p50 latency, {c} conn (µs)", "{:.0f}"),
                  ("p99", f"p99 latency, {c} conn (µs)", "{:.0f}"), ("p50_1", "p50 latency, 1 conn (µs)", "{:.0f}"),
                  ("first", "first SSE event, 1 conn (µs)", "{:.0f}"), ("cpu", "CPU per request (µs)", "{:.1f}")]
        for kind in scripts:
            print(f"{'streamed (SSE)' if kind == 'stream' else 'non-streamed (JSON)'}")
            for metric, label, fmt in labels:
                if (kind, "ours", metric) not in results:
                    continue
                d, n, o = (median(kind, t, metric) for t in ("direct", "nginx", "ours"))
                ratio = f"{o / n:.2f}x" if n else "-"
                added = f"{o - d:+.0f}" if metric in ("p50", "p99", "p50_1", "first") else ""
                print(f"  {label:32}{fmt.format(d):>12}{fmt.format(n):>12}{fmt.format(o):>12}{ratio:>12}{added:>13}")
        print()
        for kind, figures in reported.items():
            if figures:
                print(f"the bridge's own time by its x-safeapi-overhead-us header, {kind}, 1 conn, {samples // 2} calls: "
                      f"p50 {figures[0]:.0f} µs, p99 {figures[1]:.0f} µs")
        print(f"our peak RSS: {rss:.1f} MB")
        if bad:
            print(f"WARNING: {bad} runs had errors or non-2xx answers (see {work})")
        counted = sum(quota_used(call(ours, "GET", "/api/me/quota", headers={"Authorization": f"Bearer {t}"})) for t in tokens)
        print(f"proxied calls admitted and counted by the quota today: {counted}")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
