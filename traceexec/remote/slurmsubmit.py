"""sbatch with the trace context inside the batch script.

    python -m traceexec.remote.slurmsubmit SBATCH SELF [SBATCH OPTIONS] [SCRIPT [ARGS...]]

Runs ``SBATCH`` (the sbatch client) with the script replaced by
``slurmscript.batch_script`` (fed on stdin as ``/dev/stdin``; ``--wrap`` and a
script on stdin are turned into a script first, as sbatch does), so the
context reaches the job whatever ``--export`` says.  sbatch's output passes
through unchanged; the job id it prints is looked up with scontrol and recorded
as a span ``slurm job ID`` under the submitting span (TRACEPARENT here), with
``slurm.job.*`` attributes: partition, nodes, state, and with ``--wait`` the
queue wait and run time.  Exit status and signals are sbatch's.  SELF is the
submitting traceexec, which the job runs under when the node sees it.
"""

import os
import signal
import subprocess
import sys
import time

from .. import __version__
from . import slurmargs, slurmjob, slurmscript
from .homecoming import _write_all

SCRIPT_LIMIT = 64 * 1024 * 1024
"""The largest script wrapped (sbatch's own limit is 4 MiB unless the site raises it)."""
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)
WRAP_HEAD = b"#!/bin/sh\n# This script was created by sbatch --wrap.\n\n"
"""What sbatch puts before a --wrap command (sbatch(1))."""


class Submission:
    """What to run: ``argv``, and ``stdin`` bytes to feed (None: our stdin as is)."""

    def __init__(self, argv, stdin=None, wrapped=False):
        self.argv, self.stdin, self.wrapped = argv, stdin, wrapped


def _read_all(fd: int) -> bytes:
    """All of ``fd`` (a script on standard input: sbatch too holds it whole)."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def submission(client: str, args: list, environ, self_path: str, read_stdin=None) -> Submission:
    """The sbatch command that submits ``args``' job with the context inside it."""
    line = slurmargs.split("sbatch", args)
    as_is = Submission([client] + list(args))
    if not line.submits():
        return as_is
    wrap = line.value("wrap")
    if wrap is not None:
        if line.operands:
            return as_is  # sbatch refuses a script with --wrap, in its words
        script, name, rest = WRAP_HEAD + os.fsencode(wrap) + b"\n", "wrap", []
    elif line.operands:
        try:
            with open(line.operands[0], "rb") as file:
                script = file.read(SCRIPT_LIMIT + 1)
        except OSError:
            return as_is  # sbatch says why
        name, rest = os.path.basename(line.operands[0]), line.operands[1:]
    else:
        script = (read_stdin or (lambda: _read_all(0)))()
        name, rest = "sbatch", []
        as_is.stdin = script
    if len(script) > SCRIPT_LIMIT:
        return as_is
    try:
        text = slurmscript.batch_script(script, environ, self_path, job_name=name)
    except slurmscript.NotWrapped:
        return as_is
    return Submission([client] + line.words(leave_out={"wrap"}) + ["/dev/stdin"] + rest,
                      text, wrapped=True)


def job_record(job_id, fields: dict, environ, start_ns: int, end_ns: int, resource=None):
    """The ``slurm job ID`` span under the submitting span, or None without one."""
    from ..wrap import context
    from ..delivery import span
    parent = context.parse_traceparent(environ.get("TRACEPARENT"))
    if parent is None or not parent.is_sampled:
        return None
    attrs = {"slurm.job.id": int(job_id) if job_id.isdigit() else job_id}
    attrs.update(slurmjob.attributes(fields))
    failed = attrs.get("slurm.job.state") in slurmjob.FAILED_STATES
    return span.new_record(
        trace_id=parent.trace_id, span_id=context.new_span_id(),
        parent_span_id=parent.span_id, trace_state=environ.get("TRACESTATE", ""),
        flags=parent.flags, name="slurm job %s" % job_id, kind=span.KIND_INTERNAL,
        start_ns=start_ns, end_ns=end_ns, attributes=attrs,
        status_code=span.STATUS_ERROR if failed else span.STATUS_UNSET,
        status_message=attrs.get("slurm.job.reason", "") if failed else "",
        resource=resource, scope_version=__version__)


def record_job(output: bytes, environ, start_ns: int, end_ns: int, warn) -> None:
    """Look the submitted job up and deliver its span; never raises."""
    try:
        submitted = slurmjob.submitted_id(output)
        if submitted is None:
            return
        job_id, cluster = submitted
        from ..delivery import config
        cfg = config.resolve({}, None, environ)
        record = job_record(job_id, slurmjob.show_job(job_id, environ, cluster=cluster), environ,
                            start_ns, end_ns, cfg.resource)
        if record is not None:
            from ..wrap.command import deliver
            deliver([record], cfg, wait=cfg.wait)
    except Exception as problem:  # telemetry never changes the outcome
        warn("slurm job not recorded: %s" % problem)


OUTPUT_KEPT = 4096
"""The bytes of sbatch's output kept to find the job id in."""


def main(argv: list) -> int:
    def warn(message):
        os.write(2, ("traceexec: warning: %s\n" % message).encode())

    client, self_path, args = argv[0], argv[1], argv[2:]
    todo = submission(client, args, os.environ, self_path)
    start_ns = time.time_ns()
    try:
        sbatch = subprocess.Popen(todo.argv, stdout=subprocess.PIPE,
                                  stdin=subprocess.PIPE if todo.stdin is not None else None)
    except OSError as error:
        os.write(2, ("traceexec: %s: %s\n" % (client, error.strerror)).encode())
        return 127 if isinstance(error, FileNotFoundError) else 126
    for number in FORWARDED:  # ours go to sbatch; we end when it ends
        signal.signal(number, lambda signum, _frame: sbatch.send_signal(signum))
    if todo.stdin is not None:
        try:
            sbatch.stdin.write(todo.stdin)
        except OSError:
            pass  # sbatch stopped reading: it says why
        try:
            sbatch.stdin.close()
        except OSError:
            pass
    kept = b""
    while True:
        try:
            data = os.read(sbatch.stdout.fileno(), 65536)
        except InterruptedError:
            continue
        if not data:
            break
        _write_all(1, data)
        if len(kept) < OUTPUT_KEPT:
            kept += data[:OUTPUT_KEPT - len(kept)]
    status = sbatch.wait()
    record_job(kept, os.environ, start_ns, time.time_ns(), warn)
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
