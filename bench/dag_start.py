"""DAG runs beside make: the start of a 1-step DAG, and the CPU each step costs the
driver in a chain and a fan-out of ``/bin/true`` steps, with GNU make running the same
graph in the same run (interleaved), and the floor: ``/bin/true`` started N times.

    start:     median wall of ``traceexec run --quiet`` of one step, beside ``make`` of
               one target and ``python -c pass`` (goal: <= 25 ms wall), warm (the DAG
               file parsed by an earlier run, as every run after the first finds it:
               ``dag/parsecache.py``) and cold (its cache emptied before each run)
    per step:  instructions per step, (I(N) - I(1)) / (N - 1), I counted by callgrind in the
               driver (traceexec) or in make alone (``--trace-children=no``): what each step
               runs (its /bin/true) is in neither count, so it is taken off exactly
               (goal: traceexec <= 5x make's).  Both clocks that decide when the run record is
               rewritten run 50x slower in the driver under callgrind (``SLOW_CLOCK``, a
               ``sitecustomize`` in a folder of the benchmark's), as callgrind slows the run
               about that much: otherwise a run would rewrite its record many times more
               often than it does at full speed.  Beside them, the floor of any driver
               written in Python: ``bench/spawn_floor.py`` starts, drains and reaps the
               same steps with nothing else (not judged).  Wall and CPU time per step
               (children included) are printed beside make's for the same graphs, not
               judged.
    RSS:       peak RSS of the driver at the largest size (goal: <= 100 MiB)
    no pidfd:  the chain again where the kernel refuses pidfd_open (a seccomp filter,
               tests/helpers/no_pidfd.py): a step's end comes by SIGCHLD, so the wall
               time stays that of the chain with pidfds

Both run the command directly (make: a recipe without shell syntax; traceexec: a
plain command line), to the local store (traceexec's default).

    python bench/dag_start.py            # start x15; 1,000 and 10,000 steps; instructions at 1,000
    python bench/dag_start.py --quick    # a smoke run: start x3, 200 steps, instructions at 20
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (ROOT, Launcher, clean_env, installed_script,  # noqa: E402
                          instructions, median, plain_interpreter, work_folder)

GOAL_START_MS, GOAL_STEP_RATIO, GOAL_RSS_MIB = 25.0, 5.0, 100.0
COLD = "`traceexec run` of 1 step, cold"
NO_PIDFD = os.path.join(ROOT, "tests", "helpers", "no_pidfd.py")
SPAWN_FLOOR = os.path.join(ROOT, "bench", "spawn_floor.py")
BEFORE = ("before issue 26 (quiet, issue 26's figures): a 1-step DAG 93 ms against make's 2.4 ms; "
          "1.6-1.9 million instructions per step against make's 0.09 million (fan-out); "
          "without pidfds a 1,000-step chain took 4.7-37 s, and a chain of 100 'sleep 0.01' "
          "steps could stall for good")


def write_graph(folder, kind, steps) -> tuple:
    """(DAG file, Makefile) of ``steps`` steps of /bin/true: a chain or a fan-out."""
    name = "%s-%d" % (kind, steps)
    dag = os.path.join(folder, name + ".yaml")
    with open(dag, "w") as handle:
        handle.write("name: %s\n%s\nsteps:\n" % (
            name.replace("-", "_"), "type: graph" if kind == "fan-out" else "type: chain"))
        for i in range(steps):
            handle.write("  - name: s%d\n    command: /bin/true\n" % i)
    makefile = os.path.join(folder, name + ".mk")
    with open(makefile, "w") as handle:
        targets = " ".join("s%d" % i for i in range(steps))
        handle.write(".PHONY: all %s\n" % targets)
        handle.write("all: %s\n" % ("s%d" % (steps - 1) if kind == "chain" else targets))
        for i in range(steps):
            depends = " s%d" % (i - 1) if kind == "chain" and i else ""
            handle.write("s%d:%s\n\t/bin/true\n" % (i, depends))
    return dag, makefile


def cpu_run(launcher, argv, env) -> tuple:
    """(wall s, CPU s with children, peak RSS MiB) of one run."""
    wall, rss, status, cpu = launcher.run_cpu(argv, env)
    if status != 0:
        raise SystemExit("%s exited %d" % (argv, status))
    return wall, cpu, rss


SLOW_CLOCK = """
import time
_real, _origin = time.monotonic, time.monotonic()
time.monotonic = lambda: _origin + (_real() - _origin) / 50.0  # callgrind: ~50x slower
"""


def per_step_instructions(folder, script, make, env, size) -> list:
    """[(graph, traceexec per step, make per step, Python floor per step)] for a chain and
    a fan-out of ``size``; the floor (``bench/spawn_floor.py``, a fan-out's starts with
    nothing else) is the same for both."""
    slow = os.path.join(folder, "slow-clock")
    os.makedirs(slow, exist_ok=True)
    with open(os.path.join(slow, "sitecustomize.py"), "w") as handle:
        handle.write(SLOW_CLOCK)
    driver_env = dict(env, PYTHONPATH=slow)
    floor = [instructions([sys.executable, "-I", "-S", SPAWN_FLOOR, str(steps), folder], env)
             for steps in (1, size)]
    rows = []
    for kind in ("chain", "fan-out"):
        counts = {}
        for steps in (1, size):
            dag, makefile = write_graph(folder, kind, steps)
            jobs = ["-j"] if kind == "fan-out" else []
            instructions([script, "run", "--quiet", dag], driver_env)  # its parse cached
            counts[steps] = (instructions([script, "run", "--quiet", dag], driver_env),
                             instructions([make, "-s"] + jobs + ["-f", makefile], env))
        rows.append((kind, (counts[size][0] - counts[1][0]) / (size - 1),
                     (counts[size][1] - counts[1][1]) / (size - 1),
                     (floor[1] - floor[0]) / (size - 1)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    opts = parser.parse_args(argv)
    starts = 3 if opts.quick else 15
    sizes = [200] if opts.quick else [1000, 10000]
    make = shutil.which("make")
    if make is None:
        raise SystemExit("GNU make is needed (scripts/test installs it)")
    failures = []
    with work_folder("traceexec-dagstart-") as folder:
        python = plain_interpreter(folder)
        script = installed_script(python)
        env = clean_env(os.path.join(folder, "home"), checkout=False)  # as installed
        launcher = Launcher()
        cache = env["XDG_CACHE_HOME"] = os.path.join(folder, "cache")
        try:
            one_dag, one_mk = write_graph(folder, "chain", 1)
            cases = [("`traceexec run` of 1 step, warm", [script, "run", "--quiet", one_dag]),
                     (COLD, [script, "run", "--quiet", one_dag]),
                     ("`make` of 1 target", [make, "-s", "-f", one_mk]),
                     ("`python -c pass`", [python, "-c", "pass"])]
            for _, command in cases:  # warm-up
                cpu_run(launcher, command, env)
            walls = {label: [] for label, _ in cases}
            for round_ in range(starts):
                shift = round_ % len(cases)
                for label, command in cases[shift:] + cases[:shift]:
                    if label == COLD:
                        shutil.rmtree(cache, ignore_errors=True)
                    walls[label].append(cpu_run(launcher, command, env)[0] * 1000.0)
            print("load average %.1f; %d CPUs; start: median of %d interleaved runs\n"
                  % (os.getloadavg()[0], os.cpu_count() or 0, starts))
            print("| start | median wall ms | vs make | vs python -c pass | goal ms |")
            print("|---|---:|---:|---:|---:|")
            base = median(walls["`make` of 1 target"])
            python_start = median(walls["`python -c pass`"])
            for label, _ in cases:
                print("| %s | %.1f | %.1fx | %.2fx | %s |" % (
                    label, median(walls[label]), median(walls[label]) / base,
                    median(walls[label]) / python_start,
                    "%.0f" % GOAL_START_MS if label.startswith("`traceexec") else ""))
            for label, _ in cases[:2]:
                start = median(walls[label])
                if start > GOAL_START_MS:
                    failures.append("a 1-step DAG (%s) starts in %.1f ms"
                                    % (label.rsplit(" ", 1)[1], start))

            if shutil.which("valgrind") is None:
                raise SystemExit("valgrind is needed for the instruction counts "
                                 "(scripts/test installs it)")
            size = 20 if opts.quick else 1000
            print("\ninstructions per step, (I(%d) - I(1)) / %d, callgrind, the driver and "
                  "make alone (what each step runs is in neither)\n" % (size, size - 1))
            print("| graph | traceexec per step | make per step | ratio | goal "
                  "| Python floor per step |")
            print("|---|---:|---:|---:|---:|---:|")
            for kind, ours, theirs, floor in per_step_instructions(folder, script, make, env,
                                                                   size):
                ratio = ours / theirs
                print("| %s of %d | %.0f k | %.0f k | %.1fx | <= %.0fx | %.0f k |" % (
                    kind, size, ours / 1000, theirs / 1000, ratio, GOAL_STEP_RATIO,
                    floor / 1000))
                if ratio > GOAL_STEP_RATIO:
                    failures.append("%s of %d: %.1fx make's instructions per step"
                                    % (kind, size, ratio))

            print("\n| graph | steps | traceexec wall s | make wall s | traceexec CPU/step ms "
                  "| make CPU/step ms | traceexec peak RSS MiB |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for kind in ("chain", "fan-out"):
                for size in sizes:
                    dag, makefile = write_graph(folder, kind, size)
                    jobs = ["-j"] if kind == "fan-out" else []
                    t_wall, t_cpu, t_rss = cpu_run(
                        launcher, [script, "run", "--quiet", dag], env)
                    m_wall, m_cpu, _ = cpu_run(
                        launcher, [make, "-s"] + jobs + ["-f", makefile], env)
                    print("| %s | %d | %.2f | %.2f | %.3f | %.3f | %.1f |" % (
                        kind, size, t_wall, m_wall, t_cpu / size * 1000, m_cpu / size * 1000,
                        t_rss))
                    if size == sizes[-1] and t_rss > GOAL_RSS_MIB:
                        failures.append("%s of %d: %.1f MiB" % (kind, size, t_rss))
            size = sizes[0]
            dag, _ = write_graph(folder, "chain", size)
            with_pidfd = cpu_run(launcher, [script, "run", "--quiet", dag], env)[0]
            without = cpu_run(launcher, [python, NO_PIDFD, script, "run", "--quiet", dag],
                              env)[0]
            print("\nchain of %d without pidfds (SIGCHLD): %.2f s wall; with pidfds %.2f s"
                  % (size, without, with_pidfd))
        finally:
            launcher.close()
    print("\ngoals: a 1-step DAG <= %.0f ms wall; per step <= %.0fx make's instructions; "
          "<= %.0f MiB"
          % (GOAL_START_MS, GOAL_STEP_RATIO, GOAL_RSS_MIB))
    print(BEFORE)
    if failures:
        print("\nover budget: " + "; ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
