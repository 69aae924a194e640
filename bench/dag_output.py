"""What ``traceexec run`` costs on output that has no newlines, while steps run in
parallel: wall time and peak RSS, beside a ``cat``-like floor.

Each DAG runs %(steps)d parallel steps; each writes its share of %(mb)d MB to
stdout as one line (``head -c N /dev/zero``), or as ``\\r``-separated progress
updates, or as binary with stray newlines (``/dev/urandom``).  The floor is
the same commands run by a shell, each piped through ``cat > /dev/null``: the
bytes must cross one pipe into one reader in both cases.

    ratio = wall(traceexec run) / wall(floor)

Goal (issue 20.3): linear; a 300 MB line-less stream in a few times the floor,
not minutes (quadratic line joining took 452 s and 896 MiB for 300 MB).

    python bench/dag_output.py            # 300 MB
    python bench/dag_output.py --quick    # 20 MB, a smoke run
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, clean_env, work_folder  # noqa: E402

STEPS = 3
KINDS = {
    "one line": "head -c {n} /dev/zero",
    "\\r progress": "yes 'progress 42%' | tr '\\n' '\\r' | head -c {n}",
    "binary": "head -c {n} /dev/urandom",
}


def peak_children_rss_mib(run):
    """Run ``run()`` in a fresh child so RUSAGE_CHILDREN's maxrss is this run's alone."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        wall = run()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        os.write(write, ("%f %f" % (wall, peak)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        text = handle.read()
    os.waitpid(pid, 0)
    wall, peak = text.split()
    return float(wall), float(peak)


def timed(argv, env, cwd):
    def run():
        started = time.monotonic()
        subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        return time.monotonic() - started
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mb", type=int, default=300, help="megabytes in all (300)")
    parser.add_argument("--kind", choices=sorted(KINDS), help="only this kind of output")
    opts = parser.parse_args()
    total = (20 if opts.quick else opts.mb) * 1000 * 1000
    share = total // STEPS
    print(__doc__.split("\n\n")[0] % {"steps": STEPS, "mb": total // 10 ** 6})
    print()
    print("| output (%d MB, %d parallel steps) | floor s | traceexec run s | ratio |"
          " peak RSS MiB |" % (total // 10 ** 6, STEPS))
    print("|---|---|---|---|---|")
    with work_folder() as folder:
        env = clean_env(os.path.join(folder, "home"))
        for kind, template in KINDS.items():
            if opts.kind and kind != opts.kind:
                continue
            command = template.format(n=share)
            dag = os.path.join(folder, "out.yaml")
            with open(dag, "w") as handle:
                handle.write("type: graph\nsteps:\n" + "".join(
                    "  - name: s%d\n    command: %s\n" % (i, _yaml(command))
                    for i in range(STEPS)))
            floor_line = " & ".join("(%s) | cat > /dev/null" % command
                                    for _ in range(STEPS)) + "; wait"
            floor, _ = peak_children_rss_mib(timed(["sh", "-c", floor_line], env, folder))
            wall, peak = peak_children_rss_mib(
                timed(TRACEEXEC + ["run", "--quiet", dag], env, folder))
            print("| %s | %.2f | %.2f | %.1fx | %.0f |" % (kind, floor, wall, wall / floor, peak))


def _yaml(text):
    import json
    return json.dumps(text)


if __name__ == "__main__":
    main()
