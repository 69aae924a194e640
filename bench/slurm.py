"""What ``traceexec sbatch`` and ``traceexec srun`` add to a submission, side by side
with bare sbatch and srun on the same single-node cluster in the same run.

Starts the tests' cluster (tests/remote/slurm_cluster.py: munged, slurmctld,
slurmd; root only), then alternates bare and traced runs of
``sbatch --wrap true`` (the submission: sbatch returns once the job is queued;
traced, it also asks scontrol for the job) and ``srun true`` (a whole job, from
allocation to the end of the task; traced, the task runs under traceexec too),
spans to the local store.  Prints the medians and the ratio traced / bare.

    python bench/slurm.py            # 15 rounds
    python bench/slurm.py --quick    # a smoke run: 2 rounds
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "remote"))

from bench.common import TRACEEXEC, clean_env, work_folder  # noqa: E402
from slurm_cluster import Cluster, refused  # noqa: E402

CASES = (("sbatch --wrap true", ["sbatch", "--output=/dev/null", "--wrap", "true"]),
         ("srun true", ["srun", "true"]))


def timed(argv, env) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=300)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    rounds = 2 if parser.parse_args().quick else 15
    why = refused()
    if why:
        print("bench/slurm.py: cannot run here: %s" % why)
        return 1
    with work_folder() as folder:
        cluster = Cluster(os.path.join(folder, "cluster")).start()
        try:
            home = os.path.join(folder, "home")
            env = cluster.env(clean_env(home))  # traceexec on PATH: srun's task runs under it
            env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
            print("| case | bare (median) | traceexec (median) | ratio |")
            print("| --- | --- | --- | --- |")
            for name, argv in CASES:
                bare, traced = [], []
                for _ in range(rounds):
                    bare.append(timed(argv, env))
                    traced.append(timed(TRACEEXEC + argv, env))
                b, t = statistics.median(bare), statistics.median(traced)
                print("| %s | %.0f ms | %.0f ms | %.2fx |" % (name, b * 1e3, t * 1e3, t / b))
            print("(%d rounds each, alternating; load average %.2f)"
                  % (rounds, os.getloadavg()[0]))
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
