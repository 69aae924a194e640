"""What wrapping a command costs: ``traceexec -- true`` next to ``python -c pass``.

Runs every case N times, interleaved (case A, B, C, ... then again), so that
machine noise falls on all of them alike, and prints the median wall time, the
peak RSS (from ``os.wait4``) and both as ratios to ``python -c pass`` with the
same interpreter, as a Markdown table.  Cases: bare ``true``; the floor,
``python -I -S -c pass`` (no ``site``); ``python -c pass``; the installed
``traceexec -- true`` (``bin/traceexec`` as pip installs it in a venv) to the
local store; the floor of a wrapper in Python, ``bench/bare_wrapper.py true``
with the same interpreter and ``site`` (ids, spawn, wait, one line appended:
what any wrapper in Python pays, however lean); ``traceexec -- true`` with a
collector up (``traceexec serve``), down (nothing listening) and not
answering (a TCP black hole); and
a naive wrapper that exports with the SDK synchronously.  The instructions of
the first cases are counted too (callgrind, one run each, the process alone),
as wall times on a shared machine drift between runs.  The goal (issue
26): at most 1.0x the wall time of ``python -c pass`` for the installed
script to the local store; at most 16 MiB in every traceexec case.

    python bench/overhead.py            # 40 runs each
    python bench/overhead.py --quick    # a few runs, as a smoke test
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (ROOT, Collector, Launcher, clean_env, free_port,  # noqa: E402
                          installed_script, instructions, median, plain_interpreter,
                          work_folder)

GOAL_RATIO, GOAL_RSS_MIB = 1.0, 16.0
LOCAL, FLOOR = "`traceexec -- true`, local store", "`python -I -S -c pass`"
BARE = "bare Python wrapper (`bench/bare_wrapper.py true`)"
COUNTED = (FLOOR, "`python -c pass`", LOCAL, BARE)  # instructions too, where the wall is noisy
BEFORE = ("issue 26's figures: 1.32x-1.35x; "
          "before, quiet runs of this benchmark: 1.37x-1.40x (before issue 9), 1.46x-1.54x "
          "(the command forked with a parent-death signal, which needed _ctypes)")


def cases(folder, up, hole, python):
    """(label, argv, env) for every measured case; each traceexec case has its own home."""
    def home(name):
        path = os.path.join(folder, name)
        os.makedirs(path, exist_ok=True)
        return path

    down = "127.0.0.1:%d" % free_port()
    naive = os.path.join(ROOT, "bench", "naive_wrapper.py")
    bare = os.path.join(ROOT, "bench", "bare_wrapper.py")
    # the installed command, as pip leaves it in the venv
    script = installed_script(python)
    traceexec = [script]
    return [
        ("`true`", ["true"], clean_env(checkout=False)),
        (FLOOR, [python, "-I", "-S", "-c", "pass"], clean_env(checkout=False)),
        ("`python -c pass`", [python, "-c", "pass"], clean_env(checkout=False)),
        (LOCAL, traceexec + ["--", "true"], clean_env(home("local"), checkout=False)),
        (BARE, [python, bare, "true"], clean_env(home("bare"), checkout=False)),
        ("`traceexec -- true`, collector up", traceexec + ["--endpoint", up, "--", "true"],
         clean_env(home("up"), checkout=False)),
        ("`traceexec -- true`, collector down", traceexec + ["--endpoint", down, "--", "true"],
         clean_env(home("down"), checkout=False)),
        ("`traceexec -- true`, collector not answering",
         traceexec + ["--endpoint", hole, "--", "true"], clean_env(home("hole"), checkout=False)),
        ("naive SDK wrapper, collector up", [sys.executable, naive, up, "true"], clean_env()),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="3 runs each (a smoke test)")
    options = parser.parse_args(argv)
    runs = 3 if options.quick else options.runs
    with work_folder("traceexec-bench-") as folder:
        up = Collector("serve", folder)
        hole = Collector("blackhole", folder)
        launcher = Launcher()
        try:
            table = cases(folder, up.endpoint, hole.endpoint, plain_interpreter(folder))
            for _, argv, env in table:  # warm-up: page cache, .pyc files
                launcher.run(argv, env)
            counted = {label: instructions(argv, env) for label, argv, env in table
                       if label in COUNTED}
            walls = {label: [] for label, _, _ in table}
            rsses = {label: [] for label, _, _ in table}
            for _ in range(runs):
                for label, argv, env in table:
                    wall, rss, status = launcher.run(argv, env)
                    if status != 0:
                        raise SystemExit("%s exited %d" % (label, status))
                    walls[label].append(wall * 1000.0)
                    rsses[label].append(rss)
        finally:
            launcher.close()
            up.stop()
            hole.stop()
    base = "`python -c pass`"
    base_wall, base_rss = median(walls[base]), max(rsses[base])
    print("%d runs each, interleaved; Python %s; %d CPUs\n" % (
        runs, sys.version.split()[0], os.cpu_count() or 0))
    print("| case | median wall (ms) | p90 wall (ms) | peak RSS (MiB) | wall / python -c pass "
          "| RSS / python -c pass |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in table:
        ordered = sorted(walls[label])
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        wall, rss = median(walls[label]), max(rsses[label])
        print("| %s | %.1f | %.1f | %.1f | %.2fx | %.2fx |" % (
            label, wall, p90, rss, wall / base_wall, rss / base_rss))
    wrapper, floor = median(walls[LOCAL]), median(walls[FLOOR])
    print("\ngoal for traceexec: <= %.1fx the wall time of python -c pass, <= %.0f MiB peak RSS"
          % (GOAL_RATIO, GOAL_RSS_MIB))
    print("%s: %.1f ms, the goal %.1f ms (%.1fx python -c pass, %.1f ms), the floor %.1f ms "
          "(python -I -S -c pass, %.2fx): %s" % (
              LOCAL, wrapper, GOAL_RATIO * base_wall, GOAL_RATIO, base_wall, floor,
              floor / base_wall, "met" if wrapper <= GOAL_RATIO * base_wall else "not met"))
    print("\ninstructions (callgrind, the process alone): %s" % "; ".join(
        "%s %.1f M (%.2fx)" % (label, counted[label] / 1e6, counted[label] / counted[base])
        for label in COUNTED))
    bare = median(walls[BARE])
    print("the floor of a wrapper in Python with site (bench/bare_wrapper.py): %.1f ms, %.2fx "
          "python -c pass; traceexec is %.2fx that floor" % (bare, bare / base_wall,
                                                              wrapper / bare))
    print("load average %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print(BEFORE)


if __name__ == "__main__":
    main()
