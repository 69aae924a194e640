"""The floor of a DAG driver written in Python: what starting N steps costs with no
scheduling, recording or logs at all.  ``bench/dag_start.py`` counts its instructions
beside traceexec's and make's, per step.

Each of N ``/bin/true`` starts as traceexec starts a step: ``posix_spawn`` in a session
of its own, stdout and stderr on pipes read to their end through epoll, an environment
of the caller's variables and the thirteen a step gets (``DAG_*``, ``TRACEEXEC_*``,
``TRACEPARENT``, ``LC_CTYPE``; paths under the run's folder, as a step's are), reaped
by ``wait4``.  Steps start in batches of ``START_BATCH``, as a fan-out's do, each batch
drained and reaped before the next.

    python -I -S bench/spawn_floor.py N RUN_FOLDER
"""
import os
import select
import sys

STEP_VARIABLES = ("DAG_NAME", "DAG_RUN_ID", "TRACEEXEC_PARENT_RUN_ID", "TRACEEXEC_DAG_STACK",
                  "TRACEEXEC_HOME", "DAG_RUN_LOG_FILE", "DAG_DOCS_DIR", "DAG_RUN_WORK_DIR",
                  "DAG_RUN_STEP_NAME", "DAG_RUN_STEP_STDOUT_FILE", "DAG_RUN_STEP_STDERR_FILE",
                  "TRACEPARENT", "LC_CTYPE")
START_BATCH = 64
"""As ``traceexec.dag.schedule.START_BATCH``."""


def main(steps: int, run_folder: str) -> int:
    base = dict(os.environ)
    for name in STEP_VARIABLES:
        base[name] = run_folder + "/" + name.lower()
    epoll = select.epoll()
    for first in range(0, steps, START_BATCH):
        pipes, pids = set(), []
        for number in range(first, min(steps, first + START_BATCH)):
            env = dict(base)
            env["DAG_RUN_STEP_NAME"] = "s%d" % number
            env["TRACEPARENT"] = "00-%032x-%016x-01" % (number + 1, number + 1)
            read_out, write_out = os.pipe()
            read_err, write_err = os.pipe()
            pids.append(os.posix_spawn(
                "/bin/true", ["/bin/true"], env, setsid=True,
                file_actions=[(os.POSIX_SPAWN_DUP2, write_out, 1),
                              (os.POSIX_SPAWN_DUP2, write_err, 2)]))
            os.close(write_out)
            os.close(write_err)
            for fd in (read_out, read_err):
                epoll.register(fd, select.EPOLLIN)
                pipes.add(fd)
        while pipes:
            for fd, _ in epoll.poll():
                if not os.read(fd, 65536):
                    epoll.unregister(fd)
                    os.close(fd)
                    pipes.discard(fd)
        for pid in pids:
            os.wait4(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))
