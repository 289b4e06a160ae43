#!/usr/bin/env python3
"""Analytics under load: seed N usage rows (default 1 000 000) into a fresh SQLite database,
rebuild the hourly rollups, start the server (release build), and time every analytics route.

    swift build -c release --product safeapi-bridge
    python3 bench/analytics.py [--rows 1000000] [--runs 20]

Prints the median and 95th percentile per route, measured with a real HTTP client on 127.0.0.1
(one request at a time: the figure is the route's own latency, not throughput)."""
import argparse, json, os, random, signal, socket, sqlite3, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(path, rows, users, days):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    providers = ["openai", "claude", "gemini", "groq", "mistral"]
    models = ["small", "medium", "large"]
    now = int(time.time() * 1000)
    start = now - days * 86_400_000
    rnd = random.Random(7)
    batch = []
    for i in range(rows):
        u = rnd.randrange(users)
        status = 502 if rnd.random() < 0.05 else 200
        batch.append((f"bench-{i}", f"user-{u}", f"app-{u % 10}", rnd.choice(providers), "/chat/completions", rnd.choice(models), status,
                      rnd.randrange(2000), rnd.randrange(800), 0, rnd.randrange(5000), rnd.randrange(50, 3000), None, 0, 0, "server", None,
                      "203.0.113.1", None, start + rnd.randrange(days * 86_400_000)))
        if len(batch) == 50_000:
            insert(db, batch)
            batch = []
    if batch:
        insert(db, batch)
    # The users exist, as they would (the per-user route answers 404 for unknown ones).
    db.execute("INSERT INTO apps (app_id, name, secret_hash, active, created_at_ms, updated_at_ms, secret_rotated_at_ms) VALUES ('bench', 'bench', 'x', 1, 0, 0, 0)")
    db.executemany("INSERT INTO users (user_id, app_id, active, daily_quota, monthly_quota, token_generation, created_at_ms, updated_at_ms) VALUES (?, 'bench', 1, 100, 3000, 0, 0, 0)",
                   [(f"user-{u}",) for u in range(users)])
    db.commit()
    db.close()


def insert(db, batch):
    db.executemany("""INSERT INTO usage_records (request_id, user_id, app_id, provider, endpoint, model, status, input_tokens, output_tokens,
        cached_tokens, cost_micros, latency_ms, ttfb_ms, streamed, cancelled, key_source, split_key_id, client_ip, user_agent, created_at_ms)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", batch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/safeapi-bridge"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="safeapi-bench-")
    env = dict(os.environ, DATA_DIR=work, LOG_LEVEL="warning", ADMIN_API_KEY="bench-admin-key-" + "0123456789abcdef" * 2,
               RATE_LIMIT_MAX_REQUESTS="0", USAGE_RETENTION_DAYS="0", SECURITY_LOG_FILE="false")
    subprocess.run([args.binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    t = time.time()
    seed(os.path.join(work, "safeapi.sqlite"), args.rows, args.users, args.days)
    print(f"seeded {args.rows} rows in {time.time() - t:.1f} s", file=sys.stderr)
    t = time.time()
    out = subprocess.run([args.binary, "rebuild-rollups"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    print(f"{out} in {time.time() - t:.1f} s", file=sys.stderr)
    port = free_port()
    env["PORT"] = str(port)
    server = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        week = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 7 * 86400))
        routes = [
            "/analytics/overview", f"/analytics/overview?from={week}", "/analytics/costs", "/analytics/errors",
            "/analytics/user/user-1", "/analytics/timeseries?granularity=day&groupBy=provider",
            "/analytics/timeseries?granularity=hour", "/analytics/usage?limit=100", "/analytics/usage?provider=claude&failed=true&limit=100",
        ]
        print(f"| route ({args.rows} rows, {args.users} users, {args.days} days) | median ms | p95 ms |")
        print("| --- | --- | --- |")
        for route in routes:
            times = []
            for _ in range(args.runs):
                request = urllib.request.Request(base + route, headers={"X-Admin-Key": env["ADMIN_API_KEY"]})
                t = time.perf_counter()
                with urllib.request.urlopen(request) as response:
                    response.read()
                    assert response.status == 200
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(f"| `{route}` | {statistics.median(times):.1f} | {times[int(len(times) * 0.95) - 1]:.1f} |")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
