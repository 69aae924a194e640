"""What ``traceexec --make`` costs per recipe line, on a real build.

Oniguruma 6.9 (inside jq 1.7.1's release tarball, from PyPI's jq==1.8.0 sdist)
built with Debian's cmake, as a static and as a shared library: CMake's
generated, recursive Makefiles, 342 recipe lines in all (counted by make
itself, ``--debug=j``).  Each round cleans and builds both, bare then traced
(``traceexec --make -- make -j2``), interleaved so that machine noise falls on
both alike, and measures the wall time and the CPU time of the whole build
(make and everything under it, from ``os.wait4``).  Prints the medians side by
side, their ratio, and what traceexec adds per recipe line.

    python bench/make.py              # 3 rounds
    python bench/make.py --quick      # 1 round, static only (a smoke test)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import make_sources  # noqa: E402
from bench.common import ROOT, clean_env, median, work_folder  # noqa: E402

TRACEEXEC = [sys.executable, os.path.join(ROOT, "bin", "traceexec")]


def configure(source: str, build: str, shared: bool) -> None:
    subprocess.run(["cmake", "-S", source, "-B", build,
                    "-DBUILD_SHARED_LIBS=%s" % ("ON" if shared else "OFF")],
                   check=True, capture_output=True, timeout=600)


def measured(argv, cwd, env) -> tuple:
    """(wall seconds, CPU seconds of the whole tree) of one build; it must pass."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=null, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit("build failed in %s: %s" % (cwd, proc.stderr.read()[-2000:]))
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def recipe_lines(build: str, env) -> int:
    result = subprocess.run(["make", "--debug=j", "-j2"], cwd=build, env=env,
                            capture_output=True, text=True, timeout=1200, check=True)
    subprocess.run(["make", "clean"], cwd=build, env=env, capture_output=True, check=True)
    return sum(line.startswith("Reaping ") for line in result.stdout.splitlines())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, static only")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    with work_folder("traceexec-bench-make-") as folder:
        source = os.path.join(make_sources.extract_jq(folder), "modules", "oniguruma")
        env = clean_env(os.path.join(folder, "home"))
        builds = []
        for shared in (False,) if args.quick else (False, True):
            build = os.path.join(folder, "shared" if shared else "static")
            configure(source, build, shared)
            builds.append(build)
        lines = sum(recipe_lines(build, env) for build in builds)
        times = {"bare": [], "traced": []}
        for _ in range(rounds):
            for mode in ("bare", "traced"):
                wall = cpu = 0.0
                for build in builds:
                    subprocess.run(["make", "clean"], cwd=build, env=env,
                                   capture_output=True, check=True)
                    prefix = TRACEEXEC + ["--make", "--"] if mode == "traced" else []
                    one_wall, one_cpu = measured(prefix + ["make", "-j2"], build, env)
                    wall, cpu = wall + one_wall, cpu + one_cpu
                times[mode].append((wall, cpu))
        shutil.rmtree(os.path.join(folder, "home"), ignore_errors=True)
    bare_wall = median([w for w, _ in times["bare"]])
    bare_cpu = median([c for _, c in times["bare"]])
    traced_wall = median([w for w, _ in times["traced"]])
    traced_cpu = median([c for _, c in times["traced"]])
    print("Oniguruma with cmake (%s), make -j2, %d recipe lines, median of %d rounds\n"
          % ("static" if args.quick else "static + shared", lines, rounds))
    print("| | wall, s | CPU, s |")
    print("|---|---|---|")
    print("| bare `make -j2` | %.2f | %.2f |" % (bare_wall, bare_cpu))
    print("| `traceexec --make -- make -j2` | %.2f | %.2f |" % (traced_wall, traced_cpu))
    print("| traced / bare | %.2fx | %.2fx |" % (traced_wall / bare_wall, traced_cpu / bare_cpu))
    print("| added per recipe line | %.1f ms | %.1f ms |"
          % ((traced_wall - bare_wall) / lines * 1000, (traced_cpu - bare_cpu) / lines * 1000))


if __name__ == "__main__":
    main()
