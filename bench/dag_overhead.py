"""What ``traceexec run`` adds per step, how it scales, and its peak RSS.

Runs generated DAGs of N steps of ``true`` with the real binary (local store,
the default) and compares with running ``true`` N times from a plain loop:

    per-step overhead = (T(N) - T(1) - (N - 1) * t_true) / (N - 1)

where T is the wall time of ``traceexec run --quiet`` and t_true the cost of
one ``true`` started from Python.  Goals: at most 5 ms per step, flat per-step
cost up to 1,000 steps (linear), under 100 MiB peak RSS for 1,000 steps.

    python bench/dag_overhead.py            # chains of 1, 100, 1,000 steps and a 1,000-wide fan-out
    python bench/dag_overhead.py --quick    # a smoke run: 1 and 50 steps
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, clean_env  # noqa: E402

GOAL_MS_PER_STEP = 5.0
GOAL_RSS_MIB = 100.0


def write_dag(folder, steps, *, wide=False) -> str:
    path = os.path.join(folder, "%s-%d.yaml" % ("wide" if wide else "chain", steps))
    with open(path, "w") as handle:
        handle.write("name: bench\n")
        if wide:
            handle.write("type: graph\nmaxActiveSteps: 8\n")
        handle.write("steps:\n")
        for i in range(steps):
            handle.write("  - name: s%d\n    command: \"true\"\n" % i)
            if wide:
                handle.write("    depends: []\n")
    return path


def timed_run(argv, env) -> tuple:
    """(wall seconds, peak RSS MiB) of one process, from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit("run failed (%d): %s" % (proc.returncode, err[-2000:]))
    return wall, rusage.ru_maxrss / 1024.0


def true_cost(count=200) -> float:
    """Seconds to start and wait for ``true`` once, from Python."""
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"])
    return (time.perf_counter() - start) / count


def best_of(repeats, argv, env):
    runs = [timed_run(argv, env) for _ in range(repeats)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    opts = parser.parse_args(argv)
    sizes = [1, 50] if opts.quick else [1, 100, 1000]
    repeats = opts.repeats or (1 if opts.quick else 3)
    t_true = true_cost(50 if opts.quick else 200)
    print("one `true` from Python: %.2f ms" % (t_true * 1000))
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        env = clean_env(os.path.join(folder, "home"))
        results = {}
        for size in sizes:
            path = write_dag(folder, size)
            results[size] = best_of(repeats, TRACEEXEC + ["run", "--quiet", path], env)
            print("chain of %5d steps: %7.3f s wall, peak RSS %6.1f MiB"
                  % (size, results[size][0], results[size][1]))
        base = results[sizes[0]][0]
        print("\nper-step overhead beyond the command (goal <= %.1f ms):" % GOAL_MS_PER_STEP)
        for size in sizes[1:]:
            per_step = (results[size][0] - base - (size - 1) * t_true) / (size - 1) * 1000
            print("  %5d steps: %.2f ms per step" % (size, per_step))
            if per_step > GOAL_MS_PER_STEP:
                failures.append("%d steps: %.2f ms per step" % (size, per_step))
        if len(sizes) > 2:
            small, large = sizes[1], sizes[-1]
            ratio = ((results[large][0] - base) / (large - 1)) / (
                (results[small][0] - base) / (small - 1))
            print("  linearity: per-step time at %d / at %d steps = %.2f (1.0 is linear)"
                  % (large, small, ratio))
        rss = results[sizes[-1]][1]
        print("\npeak RSS at %d steps: %.1f MiB (goal < %.0f MiB)" % (sizes[-1], rss,
                                                                     GOAL_RSS_MIB))
        if rss >= GOAL_RSS_MIB:
            failures.append("peak RSS %.1f MiB" % rss)
        if not opts.quick:
            path = write_dag(folder, 1000, wide=True)
            wall, rss = best_of(1, TRACEEXEC + ["run", "--quiet", path], env)
            print("fan-out of 1000 steps, 8 at a time: %.3f s wall, peak RSS %.1f MiB"
                  % (wall, rss))
    if failures:
        print("\nover budget: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
