"""What ``traceexec --processes`` costs, beside the tracer it uses.

Two workloads, each run bare, under plain ``traceexec``, under ``strace -f``
alone (traceexec's own strace options, output to /dev/null) and under
``traceexec --processes`` (and ``--processes=all``), interleaved, in one run:

  (a) a shell script of 1,000 short commands (one process each);
  (b) ``make -j2`` of 200 small C files (a clean build each time; without a C
      compiler, 200 one-line shell recipes instead, and the table says so).

Goal: ``--processes`` at most 1.5x ``strace -f`` on the same work.  Spans go
to the local store (the default destination).  Figures only: nothing here
fails on a slow machine.

    python bench/processes.py            # 1,000 commands, 200 C files, 5 runs each
    python bench/processes.py --quick    # a smoke run: 100 commands, 10 files, 1 run
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (TRACEEXEC, clean_env, median, side_by_side,  # noqa: E402
                          work_folder)
from traceexec.processes import tracer  # noqa: E402

GOAL_RATIO = 1.5
COMMANDS = ("/bin/true {i}", "cat /dev/null", "basename /tmp/a/{i}.txt > /dev/null",
            "expr {i} + 1 > /dev/null", "date +%s > /dev/null")


def write_script(folder, count) -> str:
    path = os.path.join(folder, "batch.sh")
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n")
        for i in range(count):
            handle.write(COMMANDS[i % len(COMMANDS)].format(i=i) + "\n")
    os.chmod(path, 0o755)
    return path


def write_build(folder, count) -> tuple:
    """A folder with ``count`` C files (or shell recipes) and a Makefile; (folder, kind)."""
    build = os.path.join(folder, "build")
    os.makedirs(build)
    compiler = shutil.which("cc") or shutil.which("gcc")
    names = ["f%03d" % i for i in range(count)]
    with open(os.path.join(build, "Makefile"), "w") as make:
        if compiler:
            for i, name in enumerate(names):
                with open(os.path.join(build, name + ".c"), "w") as source:
                    source.write("int %s(int x) { int s = 0; for (int i = 0; i < x; i++) "
                                 "s += i * %d; return s; }\n" % (name, i))
            with open(os.path.join(build, "main.c"), "w") as source:
                source.write("int main(void) { return 0; }\n")
            objects = " ".join(n + ".o" for n in names)
            make.write("prog: main.o %s\n\t%s -o $@ $^\n" % (objects, compiler))
            make.write("%%.o: %%.c\n\t%s -O1 -c $< -o $@\n" % compiler)
            make.write("clean:\n\trm -f *.o prog\n")
            kind = "make -j2, %d C files" % count
        else:
            make.write("all: %s\n" % " ".join(n + ".out" for n in names))
            make.write("%.out:\n\techo $@ | tr a-z A-Z > $@\n")
            make.write("clean:\n\trm -f *.out\n")
            kind = "make -j2, %d shell recipes (no C compiler)" % count
    return build, kind


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--runs", type=int, default=None)
    opts = parser.parse_args(argv)
    commands, files = (100, 10) if opts.quick else (1000, 200)
    runs = opts.runs or (1 if opts.quick else 5)
    strace = tracer.find_strace(os.environ)
    with work_folder() as folder:
        home = os.path.join(folder, "home")
        env = clean_env(home)
        script = write_script(folder, commands)
        build, build_kind = write_build(folder, files)
        make = shutil.which("make")
        workloads = [("shell script, %d commands" % commands, ["/bin/sh", script], None),
                     (build_kind, [make, "-s", "-j2", "-C", build],
                      [make, "-s", "-C", build, "clean"])]
        cases = [("bare", []),
                 ("traceexec", TRACEEXEC + ["--"]),
                 ("strace -f alone", [strace] + tracer.options(os.devnull)),
                 ("traceexec --processes", TRACEEXEC + ["--processes", "--"]),
                 ("traceexec --processes=all", TRACEEXEC + ["--processes=all", "--"])]

        def verdict(times):
            ratio = median(times["traceexec --processes"]) / median(times["strace -f alone"])
            return "--processes %.2fx strace -f (goal <= %.1fx)%s" % (
                ratio, GOAL_RATIO, "" if ratio <= GOAL_RATIO else ", over")

        side_by_side(workloads, cases, env, runs, "strace -f alone", "strace -f", verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
