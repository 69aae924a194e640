"""A Slurm job as slurmctld knows it: ``scontrol show job -o ID``, read into span
attributes (job id, partition, nodes, state, queue wait and run time).

slurmctld keeps a finished job for ``MinJobAge`` (300 s by default), so this is
asked right after sbatch returns; no accounting database is needed.
"""

import datetime
import re
import subprocess
import threading

ANSWER_LIMIT = 64 * 1024
"""The most bytes of scontrol's answer read."""
TIMEOUT = 10.0
"""Seconds scontrol may take."""
SCONTROL = "TRACEEXEC_SCONTROL"
"""The scontrol to run (default ``scontrol`` on PATH)."""

FAILED_STATES = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                 "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
"""Job states that mark the job's span as an error."""

_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w:/]*)=")


def parse_record(line: str) -> dict:
    """``Key=Value`` pairs of one ``scontrol -o`` line (values may hold blanks)."""
    fields = {}
    matches = list(_FIELD.finditer(line))
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(line)
        fields[match.group(1)] = line[match.end():end].strip()
    return fields


def _epoch(text: str):
    """Seconds since the epoch of scontrol's local ``2026-12-07T08:51:07``, or None."""
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timestamp()
    except (TypeError, ValueError):
        return None


def attributes(fields: dict) -> dict:
    """Span attributes of a job record: ``slurm.job.*``."""
    attrs = {}
    for key, name in (("JobId", "id"), ("JobName", "name"), ("Partition", "partition"),
                      ("NodeList", "nodelist"), ("JobState", "state"),
                      ("ExitCode", "exit_code"), ("Reason", "reason")):
        value = fields.get(key)
        if value and value not in ("(null)", "None"):
            attrs["slurm.job." + name] = int(value) if value.isdigit() else value
    submit, start, end = (_epoch(fields.get(key)) for key in
                          ("SubmitTime", "StartTime", "EndTime"))
    state = fields.get("JobState", "")
    if submit is not None and start is not None and state != "PENDING":
        attrs["slurm.job.queue_wait_s"] = max(0, int(start - submit))
        if end is not None and state not in ("RUNNING", "SUSPENDED", "COMPLETING"):
            attrs["slurm.job.run_time_s"] = max(0, int(end - start))
    return attrs


def show_job(job_id: str, environ, timeout=TIMEOUT, cluster=None) -> dict:
    """The fields of job ``job_id`` (of ``cluster``, when sbatch named one; empty when
    slurmctld does not answer): the first line of scontrol's answer, at most
    ANSWER_LIMIT bytes of it, within ``timeout`` seconds."""
    scontrol = environ.get(SCONTROL) or "scontrol"
    where = ["-M", cluster] if cluster else []
    try:
        asked = subprocess.Popen([scontrol] + where + ["show", "job", "-o", job_id],
                                 env=environ,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
    except OSError:
        return {}
    timer = threading.Timer(timeout, asked.kill)
    timer.start()
    try:
        answer = asked.stdout.readline(ANSWER_LIMIT)
    finally:
        timer.cancel()
        asked.kill()  # the rest (an array's other tasks) is not needed
        asked.wait()
        asked.stdout.close()
    line = answer.decode("utf-8", "replace").rstrip("\n")
    return parse_record(line) if line.startswith("JobId=") else {}


_SUBMITTED = re.compile(rb"Submitted batch job (\d+)(?: on cluster (\S+))?|"
                        rb"^(\d+)(?:;(\S+))?\s*$", re.M)


def submitted_id(output: bytes):
    """(job id, cluster or None) in sbatch's output (``Submitted batch job 17``,
    ``... on cluster c``, or ``17`` or ``17;c`` with --parsable), or None."""
    match = _SUBMITTED.search(output)
    if not match:
        return None
    job_id, cluster = (match.group(1), match.group(2)) if match.group(1) else (
        match.group(3), match.group(4))
    return job_id.decode(), cluster.decode() if cluster else None
