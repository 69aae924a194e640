"""The cron example, run the way cron runs it: the job's command line from
examples/cron/crontab through /bin/sh, under ``env -i`` with cron's few
variables, in a new session (no terminal) and with stdin from /dev/null.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from conftest import BIN_DIR, ROOT
from traceexec.store import local as store

EXAMPLE = os.path.join(ROOT, "examples", "cron")
SCRIPT_PLACEHOLDER = "/opt/nightly/batch.sh"
ENDPOINT_SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 "
STEPS = ["extract", "transform", "archive", "report", "cleanup"]


def cron_command(endpoint=None):
    """The example job's command, running this checkout's script, sending to ``endpoint``
    (``None``: no endpoint, spans go to the local store)."""
    with open(os.path.join(EXAMPLE, "crontab")) as handle:
        [job] = [line for line in handle if line.strip() and not line.startswith("#")]
    command = job.split(None, 5)[5].strip()
    assert SCRIPT_PLACEHOLDER in command and ENDPOINT_SETTING in command
    command = command.replace(SCRIPT_PLACEHOLDER, os.path.join(EXAMPLE, "batch.sh"))
    setting = "OTEL_EXPORTER_OTLP_ENDPOINT=%s " % endpoint if endpoint else ""
    return command.replace(ENDPOINT_SETTING, setting)


def run_like_cron(tmp_path, home, command):
    """Run ``command`` as cron would for a user whose traceexec is in ~/.local/bin."""
    user = tmp_path / "user"
    (user / ".local" / "bin").mkdir(parents=True)
    console_script = shutil.which("traceexec", path=BIN_DIR)
    assert console_script, "the traceexec console script is not installed in %s" % BIN_DIR
    os.symlink(console_script, user / ".local" / "bin" / "traceexec")
    cron_env = {"HOME": user, "LOGNAME": "nightly", "SHELL": "/bin/sh",
                "PATH": "/usr/bin:/bin", "TRACEEXEC_HOME": home}
    result = subprocess.run(
        ["env", "-i"] + ["%s=%s" % item for item in cron_env.items()] + ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL, capture_output=True, start_new_session=True, timeout=60)
    log = (user / "nightly-batch.log").read_text()
    assert result.returncode == 0, log
    assert "traceexec:" not in log  # nothing for cron to mail
    assert (user / "nightly-batch" / "report.txt").read_text() == "total: 500500\n"
    return user


def assert_batch_trace(spans):
    """One trace: the nightly-batch span, each step a child of it."""
    assert len({s["trace_id"] for s in spans}) == 1
    [run] = [s for s in spans if s["name"] == "nightly-batch"]
    assert run["parent_span_id"] == ""
    steps = [s for s in spans if s is not run]
    assert sorted(s["name"] for s in steps) == sorted(STEPS)
    assert all(s["parent_span_id"] == run["span_id"] for s in steps)
    [transform] = [s for s in steps if s["name"] == "transform"]
    assert transform["attributes"]["batch.rows"] == 1000


def test_cron_run_is_one_trace_in_the_local_store(tmp_path, home):
    run_like_cron(tmp_path, home, cron_command())
    [trace_id] = store.trace_ids(str(home))
    assert_batch_trace(store.read(str(home), trace_id))


def test_cron_run_reaches_the_endpoint(tmp_path, home, receiver):
    # The job ends before its spans are sent: the exporter it started delivers them.
    run_like_cron(tmp_path, home, cron_command(receiver.http_endpoint.rsplit("/v1/", 1)[0]))
    spans = receiver.wait_for(1 + len(STEPS))
    assert_batch_trace(spans)
    assert {s["resource"]["service.name"] for s in spans} == {"traceexec"}
