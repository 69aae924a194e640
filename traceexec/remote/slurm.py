"""``traceexec sbatch ...`` and ``traceexec srun ...``: Slurm jobs in the trace.

Drop-ins for sbatch and srun, as ``traceexec ssh`` is for ssh: the client runs
under a span named ``sbatch SCRIPT`` / ``srun CMD`` and the job gets this span's
context inside the job itself (``slurmscript``), so ``--export=NONE`` cannot drop
it; sbatch's job is then looked up and recorded (``slurmsubmit``).
"""

import os
import shutil
import sys

from . import slurmargs, slurmscript

SBATCH = "TRACEEXEC_SBATCH"
"""The sbatch client to run (default ``sbatch`` on PATH)."""
SRUN = "TRACEEXEC_SRUN"
"""The srun client to run (default ``srun`` on PATH)."""

_COMMON_HELP = """\
The job gets this span's TRACEPARENT, TRACESTATE and BAGGAGE inside the job,
not in its environment, so a site's --export=NONE cannot drop them.  Where
traceexec is on the job's PATH, in ~/.local/bin or at this traceexec's own path
(a shared file system), the job runs under it: its span a child of this one,
with host.name, slurm.job.id, slurm.job.partition and slurm.job.nodelist.
Output, exit status and signals are %s's.  See docs/remote.md.
"""

SBATCH_HELP = """usage: traceexec sbatch [SBATCH OPTIONS] [SCRIPT [ARGS...]]

Runs sbatch(1) under a span named "sbatch SCRIPT".  The batch script (a file,
--wrap or standard input) is submitted inside a small sh script with the same
#SBATCH lines; the job id sbatch prints is looked up with scontrol and recorded
as a span "slurm job ID" with the job's partition, nodes and state, and with
--wait its queue wait and run time (slurm.job.queue_wait_s, run_time_s).
""" + _COMMON_HELP % "sbatch" + """
examples:
  traceexec sbatch --wait job.sh
  traceexec sbatch --export=NONE -p batch --wrap 'hostname'

exit status: 0 submitted (with --wait: the job succeeded); otherwise sbatch's

environment:
  TRACEEXEC_SBATCH       the sbatch client to run (default: sbatch on PATH)
  TRACEEXEC_SCONTROL     the scontrol to ask (default: scontrol on PATH)
"""

SRUN_HELP = """usage: traceexec srun [SRUN OPTIONS] CMD [ARGS...]

Runs srun(1) under a span named "srun CMD"; CMD runs on each task through
/bin/sh, which sets the context and execs CMD (under traceexec when there is
one: a span per task, with slurm.step.id and slurm.task.id too).
""" + _COMMON_HELP % "srun" + """
examples:
  traceexec srun -N 2 hostname
  traceexec srun --export=NONE -p batch ./simulate --steps 100

exit status: 0 every task succeeded; otherwise srun's

environment:
  TRACEEXEC_SRUN         the srun client to run (default: srun on PATH)
"""


def own_path(environ) -> str:
    """This traceexec's executable, for the job to find on a shared file system."""
    started = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(started) == "traceexec" and os.access(started, os.X_OK):
        return started
    return shutil.which("traceexec", path=environ.get("PATH")) or ""


def _main(kind: str, args: list, environ, text: str, argv_from_line) -> int:
    """``traceexec KIND ARGS``: KIND's help, or KIND under a span running
    ``argv_from_line(line, client, child_env)``."""
    from ..wrap.command import execute
    from ..wrap.options import Options
    environ = os.environ if environ is None else environ
    if args[:1] in (["-h"], ["--help"]):
        from ..files import write_text
        write_text(1, text)
        return 0
    line = slurmargs.split(kind, args)
    opts = Options()
    opts.argv = [environ.get(SBATCH if kind == "sbatch" else SRUN) or kind] + list(args)
    target = os.path.basename(line.operands[0]) if line.operands else (
        "wrap" if line.value("wrap") is not None else "")
    opts.name = ("%s %s" % (kind, target)).strip()
    return execute(opts, environ, argv_from_env=lambda env: argv_from_line(
        line, opts.argv[0], env))


def sbatch_argv(client: str, args: list, env) -> list:
    """What runs for ``sbatch ARGS`` under a span whose context ``env`` holds."""
    return [sys.executable, "-m", "traceexec.remote.slurmsubmit", client,
            own_path(env)] + list(args)


def srun_argv(client: str, args: list, env, line=None) -> list:
    """What runs for ``srun ARGS`` under a span whose context ``env`` holds."""
    line = line or slurmargs.split("srun", args)
    if not line.submits() or not line.operands or "multi-prog" in line.names:
        return [client] + list(args)
    return [client] + line.words() + slurmscript.srun_argv(line.operands, env, own_path(env))


def step_argv(argv: list, make_env) -> list:
    """A DAG step's process ``argv``, rewritten when it runs sbatch or srun (the step
    span's context in the environment ``make_env()`` makes then reaches the job as with
    ``traceexec sbatch``; other steps do not pay for making it)."""
    kind = os.path.basename(argv[0]) if argv else ""
    if kind == "sbatch":
        return sbatch_argv(argv[0], argv[1:], make_env())
    if kind == "srun":
        return srun_argv(argv[0], argv[1:], make_env())
    return argv


def sbatch_main(args: list, environ=None) -> int:
    return _main("sbatch", args, environ, SBATCH_HELP,
                 lambda line, client, env: sbatch_argv(client, args, env))


def srun_main(args: list, environ=None) -> int:
    return _main("srun", args, environ, SRUN_HELP,
                 lambda line, client, env: srun_argv(client, args, env, line))
