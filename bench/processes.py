"""What ``traceexec --processes`` costs, beside the cheapest strace that sees the same.

Two workloads, each run bare, under the floor (``strace -f --seccomp-bpf -e
trace=execve,exit_group``, output to /dev/null: the least a ptrace tracer must do to
see every exec and exit), under ``strace -f`` with traceexec's own options (output to
/dev/null) and under ``traceexec --processes``, interleaved, in one run:

  (a) a fork-heavy shell script: 5,000 commands (a process each; every seventh a
      pipeline of two, every seventh a command substitution, a subshell);
  (b) a real ``./configure`` (jq 1.7.1's, autotools, from the jq sdist on PyPI
      that the make tests use; fetched once into the user's cache).

Goal: ``--processes`` at most 1.2x the floor, as ratios to bare.  Then every
process must still be seen: the execs and exits traceexec's tracer saw, against a
plain ``strace -f -e trace=execve`` of the same work.  Spans go to the local store
(the default destination).  Figures only: nothing here fails on a slow machine.

    python bench/processes.py            # 5,000 commands and ./configure, 5 runs each
    python bench/processes.py --quick    # a smoke run: 200 commands, 1 run, no configure
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import make_sources  # noqa: E402
from bench.common import (TRACEEXEC, clean_env, median, side_by_side,  # noqa: E402
                          work_folder)
from traceexec.processes import tracer  # noqa: E402

GOAL_RATIO = 1.2
COMMANDS = ("/bin/true {i}", "cat /dev/null", "basename /tmp/a/{i}.txt > /dev/null",
            "expr {i} + 1 > /dev/null", "echo {i} | tr 0-9 a-j > /dev/null",
            "x=$(date +%s)", "(/bin/true {i})")
FLOOR = ["-f", "--seccomp-bpf", "-e", "trace=execve,exit_group", "-o", os.devnull, "--"]
CONFIGURE = ["./configure", "-q", "--without-oniguruma", "--disable-docs",
             "--disable-valgrind"]


def write_script(folder, count) -> str:
    path = os.path.join(folder, "batch.sh")
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n")
        for i in range(count):
            handle.write(COMMANDS[i % len(COMMANDS)].format(i=i) + "\n")
    os.chmod(path, 0o755)
    return path


def seen_by_strace(strace, command, env, folder) -> tuple:
    """(successful execs, processes ended) in a plain ``strace -f -e trace=execve``."""
    log = os.path.join(folder, "execve.log")
    subprocess.run([strace, "-f", "-e", "trace=execve", "-o", log, "--"] + command,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    execs = ends = 0
    with open(log, errors="replace") as handle:
        for line in handle:
            if "+++ exited with " in line or "+++ killed by " in line:
                ends += 1
            elif line.rstrip().endswith(" = 0") and "execve" in line:
                execs += 1
    os.unlink(log)
    return execs, ends


def seen_by_traceexec(strace, command, env) -> tuple:
    """(successful execs, processes ended) in traceexec's tracer on the same work."""
    session = tracer.Session(strace, command)
    session.start()
    pid = os.posix_spawn(session.argv[0], session.argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    os.waitpid(pid, 0)
    session.finish()
    processes = session.tree.processes
    return (sum(1 for p in processes for image in p.images if not image.forked),
            sum(1 for p in processes if p.ended))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--runs", type=int, default=None)
    opts = parser.parse_args(argv)
    commands = 200 if opts.quick else 5000
    runs = opts.runs or (1 if opts.quick else 5)
    strace = tracer.find_strace(os.environ)
    with work_folder() as folder:
        home = os.path.join(folder, "home")
        env = clean_env(home)
        script = write_script(folder, commands)
        workloads = [("fork-heavy shell script, %d commands" % commands, ["/bin/sh", script],
                      None)]
        if not opts.quick:
            jq = make_sources.extract_jq(folder)
            workloads.append(("jq 1.7.1's ./configure",
                              ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", jq] + CONFIGURE,
                              None))
        cases = [("bare", []),
                 ("strace floor", [strace] + FLOOR),
                 ("strace -f, traceexec's options", [strace] + tracer.options(os.devnull)),
                 ("traceexec --processes", TRACEEXEC + ["--processes", "--"])]

        def verdict(times):
            bare = median(times["bare"])
            floor = median(times["strace floor"]) / bare
            ours = median(times["traceexec --processes"]) / bare
            return "--processes %.2fx bare, the floor %.2fx: %.2fx the floor (goal <= %.1fx)%s" % (
                ours, floor, ours / floor, GOAL_RATIO, "" if ours / floor <= GOAL_RATIO else
                ", over")

        side_by_side(workloads, cases, env, runs, "strace floor", "floor", verdict)
        print("\nevery process seen (successful execs, processes ended):")
        for title, command, _ in workloads:
            plain = seen_by_strace(strace, command, env, folder)
            ours = seen_by_traceexec(strace, command, env)
            print("%s: traceexec's tracer %d, %d; strace -f -e trace=execve %d, %d%s" % (
                title, ours[0], ours[1], plain[0], plain[1],
                "" if ours == plain else ", DIFFERENT"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
