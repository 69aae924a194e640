"""What runs where a Slurm job runs: the context carried in the job itself.

A site's ``--export=NONE`` (or ``SLURM_EXPORT_ENV``/``SBATCH_EXPORT``) drops
every variable but SLURM_*, so TRACEPARENT cannot travel in the environment.
It travels in the job instead:

- ``batch_script``: sbatch's script is replaced by a small POSIX sh script with
  the same ``#SBATCH`` header; it sets TRACEPARENT/TRACESTATE/BAGGAGE, writes the
  original script to a private temporary file, opens it and removes it at once,
  and execs the original's interpreter (its ``#!`` line) on ``/dev/fd/9``, under
  ``traceexec`` when there is one on the node.
- ``srun_argv``: srun's command runs through ``/bin/sh -c STEP``, the context
  as words of that command line.

Either way the job's process is exec'd (exit status and signals are the job's own)
and, when ``traceexec`` is on PATH, in ~/.local/bin or at the path of the one that
submitted (a cluster's shared file system), it runs under it: its span a child of
the submitting span, with ``host.name`` and the job's id, partition and nodes.
"""

import re
import secrets
import shlex

CARRIED = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")
"""Set in the job, for whatever it runs."""
SETTINGS = ("TRACEEXEC_HOME", "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
"""Where the job's traceexec sends its spans, given to that traceexec only (not to
the job) so they arrive where the submitting span's go.  Headers, which may
hold secrets, are not carried, nor an endpoint with a password in it."""

JOB_ATTRIBUTES = (
    '--attr "host.name=$(uname -n)" --attr "slurm.job.id=$SLURM_JOB_ID" '
    '--attr "slurm.job.partition=$SLURM_JOB_PARTITION" '
    '--attr "slurm.job.nodelist=$SLURM_JOB_NODELIST" ${SLURM_ARRAY_TASK_ID:+--attr} '
    '${SLURM_ARRAY_TASK_ID:+"slurm.job.array_task_id=$SLURM_ARRAY_TASK_ID"}')
"""The job span's attributes, from the variables Slurm sets in a job (the array
task's index only in an array job)."""

FIND = ('t=; for c in traceexec "$HOME/.local/bin/traceexec" "$self"; do '
        'if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then t=$c; break; fi; done; ')
"""Sets $t to the traceexec to run under, or empty."""

UNDER = ("exec env " + " ".join('${s%d:+"%s=$s%d"}' % (i, name, i)
                                 for i, name in enumerate(SETTINGS))
         + ' "$t" --wait ' + JOB_ATTRIBUTES)
"""Runs the rest of the line under $t with the carried settings ($s0, $s1...).  It
waits for its span's delivery: Slurm ends every process of a job step with it."""

STEP = ('tp=$1 ts=$2 bg=$3 self=$4 s0=$5 s1=$6 s2=$7 s3=$8 s4=$9; shift 9; '
        'if [ -n "$tp" ]; then TRACEPARENT=$tp; export TRACEPARENT; fi; '
        'if [ -n "$ts" ]; then TRACESTATE=$ts; export TRACESTATE; fi; '
        'if [ -n "$bg" ]; then BAGGAGE=$bg; export BAGGAGE; fi; '
        + FIND + 'if [ -n "$t" ]; then ' + UNDER
        + ' --attr "slurm.step.id=$SLURM_STEP_ID" --attr "slurm.task.id=$SLURM_PROCID" '
        '-- "$@"; fi; exec "$@"')
"""srun's command on each task: $1-$3 the context (empty: not set), $4 the submitting
traceexec's path, $5-$9 the SETTINGS, then the command."""

STEP_NAME = "traceexec-srun"


def carried_settings(environ) -> list:
    """The SETTINGS values to carry (empty: not set, or not to be carried)."""
    values = []
    for name in SETTINGS:
        value = environ.get(name) or ""
        if "ENDPOINT" in name and "@" in value:
            value = ""  # a password in the URL: never into a job's script or argv
        values.append(value)
    return values


def srun_argv(command: list, environ, self_path: str) -> list:
    """The words that replace srun's ``command`` so it carries ``environ``'s context."""
    return (["/bin/sh", "-c", STEP, STEP_NAME]
            + [environ.get(name) or "" for name in CARRIED] + [self_path]
            + carried_settings(environ) + list(command))


class NotWrapped(ValueError):
    """The script is left as it is: sbatch itself refuses it, or it has no ``#!`` line."""


def interpreter(script: bytes) -> list:
    """The words of the script's ``#!`` line as the kernel reads them: the
    interpreter and at most one argument (the rest of the line)."""
    line = script.split(b"\n", 1)[0][2:]
    path, _, argument = line.strip(b" \t").partition(b" ")
    if not path:
        raise NotWrapped("no interpreter on the #! line")
    argument = argument.strip(b" \t")
    return [path] + ([argument] if argument else [])


def header(script: bytes) -> bytes:
    """The lines after ``#!`` that sbatch reads directives from: comments and blank
    lines, up to the first command."""
    kept = []
    for line in script.split(b"\n")[1:]:
        if line.strip() and not line.lstrip().startswith(b"#"):
            break
        kept.append(line + b"\n")
    return b"".join(kept)


def check_wrappable(script: bytes) -> None:
    """Raises NotWrapped for a script sbatch would refuse (so it still does, in its
    own words): no ``#!`` first line, a NUL byte, DOS line breaks."""
    if not script.startswith(b"#!"):
        raise NotWrapped("the first line is not #!")
    if b"\0" in script or b"\r\n" in script:
        raise NotWrapped("NUL bytes or DOS line breaks")
    interpreter(script)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+,:@%=-]")
"""What may not go into the ``#SBATCH --job-name=`` line as it is (a newline would
end the header, a quote or blank would need sbatch's own quoting rules)."""


def _q(value) -> bytes:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return shlex.quote(value).encode("utf-8", "surrogateescape")


def batch_script(script: bytes, environ, self_path: str, job_name=None) -> bytes:
    """The batch script to submit instead of ``script`` (raises NotWrapped).

    ``job_name``: the name sbatch would have given (the script's file name), first
    in the header so that the script's own ``#SBATCH -J`` and the command line's
    still win."""
    check_wrappable(script)
    end = b"TRACEEXEC_JOB_" + secrets.token_hex(8).encode()
    while end in script:
        end = b"TRACEEXEC_JOB_" + secrets.token_hex(8).encode()
    out = [b"#!/bin/sh\n"]
    if job_name:
        out.append(b"#SBATCH --job-name=" + _UNSAFE.sub("_", job_name).encode() + b"\n")
    out.append(header(script))
    out.append(b"# traceexec sbatch: the script above runs from /dev/fd/9 with the "
               b"submitting span's context\n")
    for name in CARRIED:
        value = environ.get(name)
        if value:
            out.append(b"%s=%s; export %s\n" % (name.encode(), _q(value), name.encode()))
    run = b" ".join(_q(word) for word in interpreter(script)) + b' /dev/fd/9 "$@"'
    out += [
        b"self=" + _q(self_path) + b"\n",
        b"".join(b"s%d=%s\n" % (i, _q(value))
                 for i, value in enumerate(carried_settings(environ))),
        b"w=\n",
        b'for d in "${TMPDIR:-/tmp}" /tmp /dev/shm "$HOME"; do\n',
        b'f=$(umask 077; mktemp "$d/traceexec-job.XXXXXX" 2>/dev/null) || continue\n',
        b"if cat > \"$f\" <<'" + end + b"'\n",
        script if script.endswith(b"\n") else script + b"\n",
        end + b"\n",
        b'then exec 9< "$f"; rm -f "$f"; w=1; break; fi\n',
        b'rm -f "$f"\n',
        b"done\n",
        b'[ -n "$w" ] || { echo "traceexec: no temporary directory could hold the batch '
        b'script" >&2; exit 1; }\n',
        FIND.encode() + b"\n",
        b'if [ -n "$t" ]; then ' + UNDER.encode() + b' --name "$SLURM_JOB_NAME" -- '
        + run + b"; fi\n",
        b"exec " + run + b"\n"]
    return b"".join(out)
