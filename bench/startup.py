#!/usr/bin/env python3
"""Startup benchmark: wall time and peak RSS of `probe` and `bpftrace` running the same
script, alternating in one run. Usage (root): python3 bench/startup.py [RUNS]

Prints a Markdown table; BENCHMARKS.md records its output with this command."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPT = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); } BEGIN { exit(); }"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = os.path.join(ROOT, "target", "release", "probe")


def measure(argv):
    """Runs argv once; returns (wall seconds, peak RSS in KiB) of that process alone.

    The peak RSS comes from GNU time, which forks the tool from its own small process:
    measuring a child forked from Python would count Python's memory too."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{argv[0]} failed with status {done.returncode}")
        return wall, int(rss.read().split()[-1])


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if not os.path.exists(PROBE):
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    tools = {"probe": [PROBE, "-e", SCRIPT], "bpftrace 0.17": ["bpftrace", "-e", SCRIPT]}
    results = {name: [] for name in tools}
    for name, argv in tools.items():  # warm-up: page cache, tracefs
        measure(argv)
    for _ in range(runs):
        for name, argv in tools.items():
            results[name].append(measure(argv))
    print(f"Script: `{SCRIPT}`, {runs} runs each, alternating.\n")
    print("| tool | median wall (ms) | min wall (ms) | median peak RSS (MiB) |")
    print("|---|---|---|---|")
    for name, rs in results.items():
        walls = [w * 1000 for w, _ in rs]
        rss = [r / 1024 for _, r in rs]
        print(f"| {name} | {statistics.median(walls):.1f} | {min(walls):.1f} | {statistics.median(rss):.1f} |")
    p = statistics.median(w for w, _ in results["probe"])
    b = statistics.median(w for w, _ in results["bpftrace 0.17"])
    pr = statistics.median(r for _, r in results["probe"])
    br = statistics.median(r for _, r in results["bpftrace 0.17"])
    print(f"\nRatio probe / bpftrace: wall {p / b:.3f}, peak RSS {pr / br:.3f}")


if __name__ == "__main__":
    main()
