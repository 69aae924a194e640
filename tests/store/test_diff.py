"""``traceexec diff``: two real runs of a DAG, one step made slower; matching by paths."""
from __future__ import annotations

import json
import textwrap

import pytest

from traceexec.delivery import span
from traceexec.store import diff, local as store

from conftest import run_traceexec

DAG = """\
name: nightly
params: "SLOW=0.05"
steps:
  - name: fetch
    command: sleep 0.05
  - name: slow-step
    command: sleep $SLOW
    depends: fetch
  - name: other
    command: sleep 0.05
    depends: fetch
"""


def run_dag(tmp_path, env, *params):
    path = tmp_path / "nightly.yaml"
    path.write_text(DAG)
    done = run_traceexec(["run", "--json", str(path)] + list(params), env)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def row_of(output, name):
    (line,) = [line for line in output.splitlines() if line.strip().startswith(name)]
    return line


def test_two_runs_of_a_dag_with_one_step_made_slower(tmp_path, env):
    first = run_dag(tmp_path, env)
    second = run_dag(tmp_path, env, "--params", "SLOW=0.8")
    result = run_traceexec(["diff", "last~1", "last", "--threshold", "50%",
                            "--threshold", "300ms"], env)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    assert row_of(out, "Step: slow-step").endswith("slower")
    assert not row_of(out, "Step: fetch").endswith("slower")
    assert not row_of(out, "Step: other").endswith("slower")
    assert "4 matched, 0 new, 0 missing, 0 status changed; 2 slower than 50% and 300ms" in out
    # the DAG span got slower too: it waited for the step
    assert row_of(out, "DAG: nightly").endswith("slower")
    by_run = run_traceexec(["diff", first["run_id"], second["run_id"], "--threshold", "5s"],
                           env)
    assert by_run.returncode == 0, by_run.stderr.decode()
    assert "last" not in by_run.stdout.decode().splitlines()[0]
    assert first["trace_id"][:12] in by_run.stdout.decode().splitlines()[0]
    # every step of the run, not only the first
    assert "4 matched, 0 new, 0 missing" in by_run.stdout.decode()
    by_prefix = run_traceexec(["diff", first["run_id"][:18], second["run_id"][:18]], env)
    assert by_prefix.returncode == 0, by_prefix.stderr.decode()
    assert "4 matched, 0 new, 0 missing" in by_prefix.stdout.decode()
    changed = run_traceexec(["diff", "last~1", "last", "--changed", "--threshold", "300ms"], env)
    names = [line.split()[0] for line in changed.stdout.decode().splitlines()[3:-1]]
    assert names == ["DAG:", "Step:"] and changed.returncode == 1
    # without a threshold: whatever changed beyond the noise floor (the 0.05 s steps may
    # have changed too on a busy machine; the 0.75 s slower step always has)
    changed = run_traceexec(["diff", "last~1", "last", "--changed"], env)
    out = changed.stdout.decode()
    assert changed.returncode == 0 and row_of(out, "Step: slow-step").endswith("slower")
    assert "noise floor" in out.splitlines()[-1]


def record(span_id, parent="", *, trace_id, name, start, end, status=0):
    return span.new_record(trace_id=trace_id, span_id=span_id, parent_span_id=parent,
                           name=name, start_ns=start, end_ns=end, status_code=status)


def test_new_missing_repeated_and_status_changes(home):
    a, b = "a" * 32, "b" * 32
    store.append(str(home), [
        record("00000000000000a0", trace_id=a, name="build", start=0, end=100),
        record("00000000000000a1", "00000000000000a0", trace_id=a, name="cc", start=0, end=10),
        record("00000000000000a2", "00000000000000a0", trace_id=a, name="cc", start=10, end=20),
        record("00000000000000a3", "00000000000000a0", trace_id=a, name="gone", start=20,
               end=30),
        record("00000000000000a4", "00000000000000a0", trace_id=a, name="test", start=30,
               end=40, status=span.STATUS_OK)])
    store.append(str(home), [
        record("00000000000000b0", trace_id=b, name="build", start=0, end=100),
        record("00000000000000b1", "00000000000000b0", trace_id=b, name="cc", start=0, end=10),
        record("00000000000000b2", "00000000000000b0", trace_id=b, name="cc", start=10, end=50),
        record("00000000000000b4", "00000000000000b0", trace_id=b, name="test", start=50,
               end=60, status=span.STATUS_ERROR),
        record("00000000000000b5", "00000000000000b0", trace_id=b, name="lint", start=60,
               end=70)])
    comparison = diff.compare_refs(str(home), a[:6], "last")
    rows = [(r.name, r.a is not None, r.b is not None) for r in comparison.rows]
    assert rows == [("build", True, True), ("cc", True, True), ("cc", True, True),
                    ("gone", True, False), ("test", True, True), ("lint", False, True)]
    second_cc = comparison.rows[2]
    assert second_cc.change_ns == 30 and second_cc.ratio == 3.0
    assert comparison.counts([("%", 1.0)]) == {"matched": 4, "new": 1, "missing": 1,
                                                "status_changed": 1, "slower": 1,
                                                "beyond_slower": 0, "beyond_faster": 0}
    lines = diff.render(comparison)
    assert any("OK -> ERROR" in line for line in lines)


def timed(trace_id, durations_ms, status=0, exits=None):
    """A root and one child per duration, one after another."""
    ms = 1_000_000
    records = [record("00000000000000f0", trace_id=trace_id, name="root", start=0,
                      end=int(sum(durations_ms) * ms))]
    start = 0
    for number, duration in enumerate(durations_ms):
        attrs = {"process.exit.code": exits[number]} if exits else {}
        records.append(span.new_record(
            trace_id=trace_id, span_id="00000000000000f%d" % (number + 1),
            parent_span_id="00000000000000f0", name="step %d" % number,
            start_ns=int(start * ms), end_ns=int((start + duration) * ms), attributes=attrs))
        start += duration
    return records


def test_the_noise_floor_needs_both_the_relative_and_the_absolute_change(home, env):
    # step 0: +1.4 ms (14%): under 20 ms, noise; step 1: +30 ms on 1 s (3%): noise;
    # step 2: 215 -> 514 ms (+139%): the regression; step 3: exit 0 -> 1, same time
    store.append(str(home), timed("a" * 32, [10, 1000, 215, 50], exits=[0, 0, 0, 0]))
    store.append(str(home), timed("b" * 32, [11.4, 1030, 514, 50], exits=[0, 0, 0, 1]))
    comparison = diff.compare_refs(str(home), "a" * 8, "b" * 8)
    marks = {r.name: r.beyond(diff.DEFAULT_NOISE) for r in comparison.rows}
    assert marks == {"root": 1, "step 0": 0, "step 1": 0, "step 2": 1, "step 3": 0}
    out = run_traceexec(["diff", "aaaaaaaa", "bbbbbbbb", "--changed"], env).stdout.decode()
    listed = [line.split()[0] + " " + line.split()[1] for line in out.splitlines()[3:-1]]
    assert listed == ["root 1.27s", "step 2", "step 3"]
    assert row_of(out, "step 2").endswith("slower")
    assert row_of(out, "step 3").endswith("exit 0 -> 1")
    assert out.splitlines()[-1].endswith("2 slower, 0 faster by more than 10% and 20ms "
                                         "(noise floor)")
    loose = run_traceexec(["diff", "aaaaaaaa", "bbbbbbbb", "--changed", "--noise", "1ms",
                           "--noise", "1%"], env).stdout.decode()
    assert "step 0" in loose and "step 1" in loose
    page = diff.diff_page(comparison)
    # side by side: an A bar and a B bar in each matched row; colour only beyond the floor
    assert page.count('class="bar-a"') == 5 and page.count('class="bar-b"') == 5
    assert page.count('class="change slower"') == 2 and "change faster" not in page


@pytest.mark.parametrize("args, message", [
    (["last", "last", "--threshold", "fast"], "--threshold 'fast'"),
    (["last", "last", "--threshold=-5%"], "--threshold '-5%'"),
    (["nothing-like-this", "last"], "neither a trace nor a DAG run id"),
    (["last", "last", "--noise", "lots"], "--noise 'lots'"),
    (["last~9", "last"], "no trace last~9")])
def test_bad_input_is_one_line_exit_2(home, env, args, message):
    store.append(str(home), [record("00000000000000a0", trace_id="c" * 32, name="x", start=0,
                                    end=1)])
    result = run_traceexec(["diff"] + args, env)
    assert result.returncode == 2 and result.stdout == b""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr.decode()


def test_parse_threshold():
    assert diff.parse_threshold("20%") == ("%", 0.2)
    assert diff.parse_threshold("1.5s") == ("s", 1.5)
    assert diff.parse_threshold("250ms") == ("s", 0.25)
    assert textwrap.dedent(diff.describe([("%", 0.2), ("s", 0.25)])) == "20% and 250ms"
