"""Running work is visible: a wrapped command and a DAG run show while they run, and a
span whose process died shows as having no end, never with a made-up duration.

Real processes throughout; each command waits for a file the test creates, so no
test depends on how fast the machine is."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

from traceexec.delivery import running

from conftest import TRACEEXEC, run_traceexec

WAIT_FOR_GO = "while [ ! -e go ]; do sleep 0.02; done"


def until(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("never happened: " + what)


def listed(env):
    result = run_traceexec(["show", "--list", "--json"], env)
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_a_wrapped_command_is_listed_and_shown_while_it_runs(tmp_path, env):
    child = subprocess.Popen(TRACEEXEC + ["--name", "nightly", "--", "sh", "-c", WAIT_FOR_GO],
                             cwd=tmp_path, env=env)
    try:
        (entry,) = until("listed as running",
                         lambda: [s for s in listed(env) if s["state"] == "running"])
        assert entry["root"] == "nightly" and entry["status"] == "RUNNING"
        plain = run_traceexec(["show", "--list"], env).stdout.decode()
        assert "RUNNING" in plain.splitlines()[1] and "+  RUNNING" in plain.splitlines()[1]
        shown = run_traceexec(["show"], env).stdout.decode().splitlines()
        assert "nightly" in shown[2] and "RUNNING" in shown[2]
    finally:
        (tmp_path / "go").write_text("")
        assert child.wait(timeout=60) == 0
    (entry,) = listed(env)
    assert entry["state"] == "ended" and entry["status"] == "OK" and entry["spans"] == 1
    shown = run_traceexec(["show"], env).stdout.decode()
    assert "1 span " in shown.splitlines()[0] and "RUNNING" not in shown


def test_a_command_whose_wrapper_was_killed_has_no_end(tmp_path, env):
    child = subprocess.Popen(TRACEEXEC + ["--name", "doomed", "--", "sh", "-c", WAIT_FOR_GO],
                             cwd=tmp_path, env=env)
    until("listed as running", lambda: [s for s in listed(env) if s["state"] == "running"])
    os.kill(child.pid, signal.SIGKILL)  # as a crash would: no finished span
    child.wait(timeout=60)
    (entry,) = until("listed as gone", lambda: [s for s in listed(env) if s["state"] == "gone"])
    assert entry["status"] == "NO END" and entry["duration_ns"] is None
    row = run_traceexec(["show"], env).stdout.decode().splitlines()[2]
    assert row.startswith("doomed ") and re.search(r" \? +NO END ", row), row


def test_a_dag_run_and_its_steps_while_they_run(tmp_path, env):
    dag = tmp_path / "slow.yaml"
    dag.write_text("name: slow\nsteps:\n  - name: quick\n    command: \"true\"\n"
                   "  - name: waits\n    command: sh -c '%s'\n    dir: %s\n"
                   "    depends: quick\n" % (WAIT_FOR_GO, tmp_path))
    child = subprocess.Popen(TRACEEXEC + ["run", str(dag)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def shown_running():
            out = run_traceexec(["show", "--no-color"], env).stdout.decode()
            return out if "Step: waits" in out and "Step: quick" in out else None
        out = until("the DAG's steps shown", shown_running)
        rows = {line.split("  ")[0].strip("├└─ `|-"): line for line in out.splitlines()[2:-1]}
        assert "RUNNING" in rows["DAG: slow"] and "RUNNING" in rows["Step: waits"]
        assert "OK" in rows["Step: quick"]
        assert "(remote)" not in out  # the finished step hangs under its running DAG
        assert out.splitlines()[2].startswith("DAG: slow")
    finally:
        (tmp_path / "go").write_text("")
        assert child.wait(timeout=60) == 0
    out = run_traceexec(["show"], env).stdout.decode()
    assert "3 spans" in out.splitlines()[0] and "RUNNING" not in out


def _start_records(home) -> list:
    """The names of the start records in the store's incoming log, in order (nothing
    here reads the store, which would file the log away)."""
    names = []
    try:
        with open(os.path.join(str(home), "store", "incoming.jsonl")) as log:
            lines = log.readlines()
    except FileNotFoundError:  # nothing written yet
        return names
    for line in lines:
        for group in json.loads(line)["resourceSpans"]:
            for scope in group["scopeSpans"]:
                names += [s["name"] for s in scope["spans"]
                          if s.get("endTimeUnixNano", "0") in ("0", 0)]
    return names


def test_a_dag_step_gets_a_start_record_only_once_it_ran_running_after(tmp_path, env, home):
    """As a wrapped command's: a step that ends sooner never pays for one (about 100,000
    instructions a step), one that runs on shows as running from then on."""
    dag = tmp_path / "mixed.yaml"
    dag.write_text("name: mixed\nsteps:\n" + "".join(
        "  - name: quick%d\n    command: \"true\"\n" % i for i in range(5)) +
        "  - name: waits\n    command: sh -c '%s'\n    dir: %s\n" % (WAIT_FOR_GO, tmp_path))
    child = subprocess.Popen(TRACEEXEC + ["run", str(dag)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def waits_shown():
            names = _start_records(home)
            return names if "Step: waits" in names else None
        seen = until("the running step's start record", waits_shown)
    finally:
        (tmp_path / "go").write_text("")
        assert child.wait(timeout=60) == 0
    assert seen == ["DAG: mixed", "Step: waits"]  # the quick steps' spans came without


def test_state_of_a_start_record():
    record = running.start_record(trace_id="a" * 32, span_id="b" * 16, name="x", start_ns=1)
    attrs = record["attributes"]
    assert record["end_ns"] == 0 and running.is_start(record)
    assert running.state(attrs, 0) == running.RUNNING  # this very process
    assert running.state(attrs, 5) == running.ENDED
    assert running.state(dict(attrs, **{running.BOOT: "another boot"}), 0) == running.GONE
    assert running.state(attrs, 0, started=lambda pid: None) == running.GONE
    assert running.state(dict(attrs, **{running.HOST: "elsewhere"}), 0) == running.RUNNING
