"""What ``traceexec --lines`` costs, beside bash's bare run and a DEBUG-trap tracer.

Two workloads, each run bare, under plain ``traceexec``, under bash's xtrace
alone (the preamble's PS4, trace to /dev/null: the floor of any xtrace tracer),
under a DEBUG-trap tracer (``set -T`` and a trap printing the same fields, to
/dev/null) and under ``traceexec --lines`` (trace read, spans built, folded and
recorded), interleaved, in one run:

  (a) a loop of builtins, 100,000 iterations (200,000 traced commands);
  (b) glibc's ``ldd`` (a bash script nobody here wrote) on 40 programs of
      /usr/bin: a real script that starts processes.

Goal: ``--lines`` at most 2x bare on (a); the span count stays bounded by
folding.  Spans go to the local store.  Figures only: nothing here fails on a
slow machine.

    python bench/lines.py            # 100,000 iterations, 40 programs, 5 runs each
    python bench/lines.py --quick    # a smoke run: 10,000 iterations, 4 programs, 1 run
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (TRACEEXEC, clean_env, median, side_by_side,  # noqa: E402
                          work_folder)
from traceexec.lines import launch  # noqa: E402

GOAL_RATIO = 2.0
DEBUG_TRAP = r"""# a DEBUG-trap tracer: the same fields as --lines' PS4, one printf per command
set -T
trap 'printf "%s\37%s\37%s\37%s\37%s\37%s\n" "$EPOCHREALTIME" "$BASHPID" "$LINENO" "${FUNCNAME-}" "${BASH_SOURCE-}" "$BASH_COMMAND" >&237' DEBUG
unset -v BASH_ENV
"""


def write_loop(folder, count) -> str:
    path = os.path.join(folder, "loop.sh")
    with open(path, "w") as handle:
        handle.write("#!/bin/bash\ni=0\nwhile (( i < %d )); do\n  (( i++ ))\ndone\n"
                     "echo \"$i\" > /dev/null\n" % count)
    os.chmod(path, 0o755)
    return path


def programs(ldd, count) -> list:
    """``count`` dynamically linked programs of /usr/bin (ldd exits 0 for each)."""
    import subprocess
    folder = "/usr/bin"
    out = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as handle:
                if handle.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        if subprocess.run([ldd, path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            out.append(path)
        if len(out) == count:
            break
    return out


def traced_to_null(folder, bash_env) -> list:
    """A prefix that runs a bash script with ``bash_env`` and fd 237 on /dev/null."""
    return ["bash", "-c", 'exec 237>/dev/null; BASH_ENV=%s TRACEEXEC_LINES_FD=237 exec "$@"'
            % bash_env, "bash"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--runs", type=int, default=None)
    opts = parser.parse_args(argv)
    iterations, count = (10000, 4) if opts.quick else (100000, 40)
    runs = opts.runs or (1 if opts.quick else 5)
    with work_folder() as folder:
        home = os.path.join(folder, "home")
        env = clean_env(home)
        debug_trap = os.path.join(folder, "debug-trap.bash")
        with open(debug_trap, "w") as handle:
            handle.write(DEBUG_TRAP)
        ldd = shutil.which("ldd")
        workloads = [("loop of builtins, %d iterations" % iterations,
                      ["bash", write_loop(folder, iterations)], None),
                     ("ldd (glibc's bash script) on %d programs" % count,
                      ["bash", ldd] + programs(ldd, count), None)]
        cases = [("bare", []),
                 ("traceexec", TRACEEXEC + ["--"]),
                 ("xtrace alone (PS4 to /dev/null)", traced_to_null(folder, launch.PREAMBLE)),
                 ("DEBUG trap (to /dev/null)", traced_to_null(folder, debug_trap)),
                 ("traceexec --lines", TRACEEXEC + ["--lines", "--"])]

        def verdict(times):
            ratio = median(times["traceexec --lines"]) / median(times["bare"])
            return "--lines %.2fx bare (goal <= %.1fx)%s" % (
                ratio, GOAL_RATIO, "" if ratio <= GOAL_RATIO else ", over")

        side_by_side(workloads, cases, env, runs, "DEBUG trap (to /dev/null)", "DEBUG trap",
                     verdict)
        from traceexec.store import local as store
        ids = store.trace_ids(home)
        spans = max(len(store.read(home, i)) for i in ids) if ids else 0
        print("largest trace: %d spans" % spans)
    return 0


if __name__ == "__main__":
    sys.exit(main())
