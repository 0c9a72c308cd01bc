#!/usr/bin/python3
"""Runs scripts/abuse against a broker of its own and checks that every attack left the broker
alive, healthy afterwards, and under a memory bound. Latency is reported, not asserted (this is a
test, not a benchmark; scripts/abuse prints the figures).

    abuse_test.py BROKER_BIN BENCH_BIN RSS_LIMIT_MB
"""
import json
import os
import subprocess
import sys

broker, bench, rss_limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "abuse")
run = subprocess.run([script, "--start", broker, "--bench", bench, "--seconds", "4", "--json"],
                     capture_output=True, text=True, timeout=600)
sys.stderr.write(run.stderr)
rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
failures = []
if run.returncode != 0 or len(rows) != 7:
    failures.append(f"scripts/abuse exited {run.returncode} with {len(rows)} rows")
for row in rows:
    print(json.dumps(row))
    if row["attack"] == "none":
        continue
    if not row.get("broker_alive") or not row.get("healthy_after"):
        failures.append(f"{row['attack']}: broker alive={row.get('broker_alive')} "
                        f"healthy after={row.get('healthy_after')}")
    if row["peak_rss_mb"] > rss_limit:
        failures.append(f"{row['attack']}: peak RSS {row['peak_rss_mb']} MB > {rss_limit} MB")
big = next((r for r in rows if r["attack"] == "big-message"), {})
if big.get("requests_ended_by_broker", 0) == 0:
    failures.append("big-message: the broker never refused a request at its length prefix")
for f in failures:
    print("FAILED:", f)
failed_attacks = {f.split(":")[0] for f in failures}
print(f"{max(len(rows) - 1 - len(failed_attacks), 0)} passed, {len(failed_attacks)} failed")
sys.exit(1 if failures else 0)
