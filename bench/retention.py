#!/usr/bin/env python3
"""Retention against writers: seed --rows usage rows older than the retention period (SQLite), then
delete them while a writer inserts one usage row per transaction without pause, and report the
longest time the writer waited. Twice: as the server does it (USAGE_RETENTION_DAYS at start:
whole hours, batches of 2,000 rows with a 20 ms pause), and, for comparison, as one DELETE
statement.

    swift build -c release --product safeapi-bridge
    python3 bench/retention.py [--rows 1000000]

The writer is a second SQLite connection in this process (busy_timeout 30 s), so what it waits for
is the database's write lock: what the usage writer and quota admission would wait for."""
import argparse, os, signal, socket, sqlite3, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analytics import ADMIN_KEY, COLUMNS, ROOT, free_port, rows_sql  # noqa: E402


class Writer(threading.Thread):
    """Inserts one row per transaction until stopped; keeps every wait."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.stop = threading.Event()
        self.waits = []

    def run(self):
        n = 0
        while not self.stop.is_set():
            now = int(time.time() * 1000)
            t = time.perf_counter()
            self.db.execute(f"INSERT INTO usage_records ({COLUMNS}) VALUES ('w-{n}', 'user-1', 'app-1', 'openai', '/chat/completions', "
                            f"'small', 200, 1, 1, 0, 1, 100, NULL, 0, 0, 'server', NULL, '203.0.113.1', NULL, {now})")
            self.waits.append((time.perf_counter() - t) * 1000)
            n += 1


def old_rows(path):
    return sqlite3.connect(path).execute("SELECT COUNT(*) FROM usage_records WHERE client_ip = '203.0.113.1' AND request_id LIKE 'bench-%'").fetchone()[0]


def report(label, writer, seconds):
    waits = sorted(writer.waits)
    print(f"| {label} | {seconds:.1f} s | {len(waits)} | {statistics.median(waits):.2f} | {waits[int(len(waits) * 0.99)]:.1f} | {waits[-1]:.1f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/safeapi-bridge"))
    args = parser.parse_args()
    print(f"| deleting {args.rows:,} old rows (SQLite) | took | writes meanwhile | median wait ms | p99 ms | longest ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for way in ("batches", "one statement"):
        work = tempfile.mkdtemp(prefix="safeapi-retention-")
        path = os.path.join(work, "safeapi.sqlite")
        env = dict(os.environ, DATA_DIR=work, LOG_LEVEL="warning", ADMIN_API_KEY=ADMIN_KEY, SECURITY_LOG_FILE="false",
                   USAGE_RETENTION_DAYS="90", PORT=str(free_port()))
        subprocess.run([args.binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(path)
        count = f"(WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {args.rows - 1}) SELECT i FROM c)"
        # 100 days, ending 120 days ago: all of it older than the retention period.
        db.execute(f"INSERT INTO usage_records ({COLUMNS}) {rows_sql(count, args.rows, 1000, 100, int(time.time() * 1000) - 120 * 86_400_000)}")
        db.commit()
        db.close()
        writer = Writer(path)
        writer.start()
        time.sleep(1)
        began = time.time()
        if way == "batches":
            server = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while old_rows(path) > 0:
                time.sleep(0.2)
            took = time.time() - began
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        else:
            db = sqlite3.connect(path, timeout=30)
            db.execute("DELETE FROM usage_records WHERE created_at_ms < ?", (int(time.time() * 1000) - 90 * 86_400_000,))
            db.commit()
            took = time.time() - began
        time.sleep(0.5)
        writer.stop.set()
        writer.join()
        report(way, writer, took)


if __name__ == "__main__":
    main()
