"""What ``traceexec --lines`` costs, beside bash's bare run and a DEBUG-trap tracer.

Three workloads, interleaved, in one run, the first two under these cases, which
take apart where the time of ``--lines`` goes:

  bare; plain ``traceexec``;
  xtrace with a plain ``PS4='+'`` to /dev/null (what bash's xtrace costs at all);
  xtrace with the preamble's PS4 to /dev/null (plus the fields --lines needs);
  the same to a pipe read by ``cat`` (plus a pipe and a reader that does nothing);
  the same to a regular file in the work folder (a file instead of the pipe);
  a DEBUG-trap tracer (``set -T`` and a trap printing the same fields, to /dev/null);
  ``traceexec --lines`` with xtrace kept on to the end (``TRACEEXEC_LINES_KEEP_XTRACE``:
  every line read and folded);
  ``traceexec --lines`` (trace read, spans built and recorded; past the budget of
  spans, xtrace turned off in the script's shells: lines/untrace.py).

Wall seconds (median) and CPU seconds (median user + system time of the run and
the children it waited for: on a loaded machine the steadier of the two):

  (a) a loop of builtins, 100,000 iterations (200,000 traced commands);
  (b) glibc's ``ldd`` (a bash script nobody here wrote) on 40 programs of
      /usr/bin: a real script that starts processes;
  (c) the loop of (a) ten times longer, bare and under ``--lines`` only: what is
      left once the fixed costs (Python's start, the 1,000 spans recorded, the
      lines traced before xtrace is turned off) are spread thin.

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

from bench.common import TRACEEXEC, clean_env, median, work_folder  # noqa: E402
from traceexec.lines import launch  # noqa: E402

GOAL_RATIO = 2.0
PLAIN = r"""# xtrace with the plainest PS4, to the same descriptor as --lines'
PS4='+'
BASH_XTRACEFD=$TRACEEXEC_LINES_FD
unset -v BASH_ENV TRACEEXEC_LINES_FD
set -x
"""
DEBUG_TRAP = r"""# a DEBUG-trap tracer: the same fields as --lines' PS4, one printf per command
set -T
trap 'printf "%s\37%s\37%s\37%s\37%s\37%s\n" "$EPOCHREALTIME" "$BASHPID" "$LINENO" "${FUNCNAME-}" "${BASH_SOURCE-}" "$BASH_COMMAND" >&237' DEBUG
unset -v BASH_ENV
"""


def write_loop(folder, count, name="loop.sh") -> str:
    path = os.path.join(folder, name)
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


def traced_to(bash_env, target="/dev/null") -> list:
    """A prefix that runs a bash script with ``bash_env`` and fd 237 on ``target`` (a
    redirection's word: a path, or ``>(cat >/dev/null)``)."""
    return ["bash", "-c", 'exec 237> %s; BASH_ENV=%s TRACEEXEC_LINES_FD=237 exec "$@"'
            % (target, bash_env), "bash"]


def timed(argv, env) -> tuple:
    """(wall seconds, CPU seconds of it and the children it waited for) of one run."""
    import subprocess
    import time
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit("%s exited %d" % (" ".join(argv), proc.returncode))
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def measure(workloads, cases, env, runs) -> list:
    """For each workload, {case: [(wall, cpu), ...]}, the cases interleaved (a
    workload's third item, when given, names the only cases it runs under)."""
    out = []
    for title, command, *only in workloads:
        chosen = [case for case in cases if not only or case[0] in only[0]]
        times = {name: [] for name, _ in chosen}
        for round_ in range(runs):
            shift = round_ % len(chosen)
            for name, prefix in chosen[shift:] + chosen[:shift]:
                times[name].append(timed(prefix + command, env))
        out.append((title, times))
    return out


def report(results, cases) -> list:
    """Print a table per workload; the verdict lines."""
    verdicts = []
    for letter, (title, times) in zip("abc", results):
        wall = {name: median([t[0] for t in runs]) for name, runs in times.items()}
        cpu = {name: median([t[1] for t in runs]) for name, runs in times.items()}
        print("\n(%s) %s" % (letter, title))
        print("| case | wall s | wall vs bare | CPU s | CPU vs bare |")
        print("|---|---:|---:|---:|---:|")
        for name in [name for name, _ in cases if name in times]:
            print("| %s | %.3f | %.2fx | %.3f | %.2fx |" % (
                name, wall[name], wall[name] / wall["bare"], cpu[name],
                cpu[name] / cpu["bare"]))
        ratio = wall[LINES] / wall["bare"]
        verdicts.append("%s: --lines %.2fx bare wall, %.2fx CPU (goal <= %.1fx)%s" % (
            title, ratio, cpu[LINES] / cpu["bare"], GOAL_RATIO,
            "" if ratio <= GOAL_RATIO else ", over"))
    return verdicts


LINES = "traceexec --lines"


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
        preambles = {}
        for name, text in (("debug-trap", DEBUG_TRAP), ("plain", PLAIN)):
            preambles[name] = os.path.join(folder, name + ".bash")
            with open(preambles[name], "w") as handle:
                handle.write(text)
        ldd = shutil.which("ldd")
        workloads = [("loop of builtins, %d iterations" % iterations,
                      ["bash", write_loop(folder, iterations)]),
                     ("ldd (glibc's bash script) on %d programs" % count,
                      ["bash", ldd] + programs(ldd, count)),
                     ("loop of builtins, %d iterations" % (iterations * 10),
                      ["bash", write_loop(folder, iterations * 10, "long.sh")],
                      ("bare", LINES))]
        ours = launch.PREAMBLE
        cases = [("bare", []),
                 ("traceexec", TRACEEXEC + ["--"]),
                 ("xtrace, PS4='+', to /dev/null", traced_to(preambles["plain"])),
                 ("xtrace, our PS4, to /dev/null", traced_to(ours)),
                 ("xtrace, our PS4, to a pipe read by cat", traced_to(ours, ">(cat >/dev/null)")),
                 ("xtrace, our PS4, to a file", traced_to(ours, os.path.join(folder, "trace"))),
                 ("DEBUG trap, to /dev/null", traced_to(preambles["debug-trap"])),
                 ("traceexec --lines, xtrace kept on", ["env", "TRACEEXEC_LINES_KEEP_XTRACE=1"]
                  + TRACEEXEC + ["--lines", "--"]),
                 (LINES, TRACEEXEC + ["--lines", "--"])]
        print("%d run(s) of each, interleaved (rotating which goes first); medians; "
              "spans to the local store; load average %.1f before" % (runs, os.getloadavg()[0]))
        verdicts = report(measure(workloads, cases, env, runs), cases)
        print("\nload average %.1f after" % os.getloadavg()[0])
        for line in verdicts:
            print(line)
        from traceexec.store import local as store
        ids = store.trace_ids(home)
        spans = max(len(store.read(home, i)) for i in ids) if ids else 0
        print("largest trace: %d spans" % spans)
    return 0


if __name__ == "__main__":
    sys.exit(main())
