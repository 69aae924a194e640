"""Hostile input: context values through the real binary, DAG documents, huge inputs.

Unit-level properties of TRACEPARENT/TRACESTATE/BAGGAGE are in
tests/test_context_properties.py and the DAG error table in
tests/test_dag_load.py; here the same kinds of input go through the binary,
and generated DAG documents through the loader.  ``stress/run.py hostile``
runs more examples and the full sizes.
"""
import os
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dags
import harness
from conftest import run_traceexec
from traceexec.wrap import context
from traceexec.dag.load import MAX_DEPTH

ENV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=200)
PRINT_CONTEXT = ('printf "%s\\0%s\\0%s\\0%s\\0" "$TRACEPARENT" "${TRACESTATE-<unset>}" '
                 '"${BAGGAGE-<unset>}" "$KEEP"')


def propagated(env, home):
    """Run ``traceexec`` printing the context its command got; (values, result)."""
    result = run_traceexec(["--", "sh", "-c", PRINT_CONTEXT], env)
    return result.stdout.split(b"\0")[:4], result


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(ENV_TEXT, ENV_TEXT, ENV_TEXT)
def test_hostile_context_through_the_binary_gives_a_valid_context(tmp_path_factory, traceparent,
                                                                  tracestate, baggage):
    home = tmp_path_factory.mktemp("home")
    env = harness.traceexec_env(home, TRACEPARENT=traceparent, TRACESTATE=tracestate,
                                BAGGAGE=baggage, KEEP="unchanged")
    values, result = propagated(env, home)
    assert result.returncode == 0 and not harness.TRACEBACK.search(result.stderr), result
    out_parent, out_state, out_baggage, keep = [v.decode() for v in values]
    assert context.parse_traceparent(out_parent) is not None
    assert out_state == "<unset>" or context.parse_tracestate(out_state) is not None
    assert out_baggage == "<unset>" or context.is_valid_baggage(out_baggage)
    assert keep == "unchanged"


def test_ten_thousand_member_tracestate_is_dropped_and_the_trace_kept(env, home):
    trace_id = harness.new_trace_id()
    env.update(TRACEPARENT=harness.traceparent(trace_id), KEEP="k",
               TRACESTATE=",".join("m%d=v" % i for i in range(10_000)))
    values, result = propagated(env, home)
    assert result.returncode == 0 and result.stderr == b""
    assert values[0].decode().split("-")[1] == trace_id and values[1] == b"<unset>"


# --- DAG documents ---------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(dags.documents())
def test_any_dag_document_is_valid_or_a_clear_error(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("dag")
    status, out, err = dags.validate_in_process(folder, text)
    dags.assert_clear(status, out, err)


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=dags.KNOWN_BUGS[name]))
    if name in dags.KNOWN_BUGS else name for name in sorted(dags.NASTY)])
def test_nasty_dag_documents_through_the_binary(tmp_path, env, name):
    path = tmp_path / "nasty.yaml"
    path.write_bytes(dags.NASTY[name])
    for command in (["validate"], ["graph"], ["run", "--dry-run"], ["run"]):
        result = run_traceexec(command + [str(path)], env, cwd=tmp_path, timeout=120)
        dags.assert_clear(result.returncode, result.stdout.decode(errors="replace"),
                          result.stderr.decode(errors="replace"))
    assert not (tmp_path / "pwned").exists()


def test_ten_thousand_step_dag_validates_and_dry_runs(tmp_path, env):
    path = tmp_path / "big.yaml"
    path.write_text(harness.dag_document(10_000, 16, "127.0.0.1:9", command="touch ran"))
    for command, expected in ((["validate"], "ok (10000 steps)"), (["graph"], "s9999"),
                              (["run", "--dry-run"], "10000. s9999")):
        started = time.monotonic()
        result = run_traceexec(command + [str(path)], env, cwd=tmp_path, timeout=120)
        print("%s of 10,000 steps: %.2fs" % (" ".join(command), time.monotonic() - started))
        assert result.returncode == 0, result.stderr[-500:]
        assert expected in result.stdout.decode()
    assert not (tmp_path / "ran").exists()


def test_nesting_past_the_depth_limit_is_refused_in_one_line(tmp_path, env):
    for level in range(100):
        (tmp_path / ("d%d.yaml" % level)).write_text(
            "steps:\n  - name: next\n    run: d%d.yaml\n" % (level + 1) if level < 99 else
            "steps:\n  - name: leaf\n    command: touch ran\n")
    for command in (["validate"], ["run"]):
        result = run_traceexec(command + [str(tmp_path / "d0.yaml")], env, cwd=tmp_path)
        lines = result.stderr.decode().splitlines()
        assert result.returncode == 2 and len(lines) == 1, lines
        assert "nested DAGs deeper than %d levels" % MAX_DEPTH in lines[0]
    assert not (tmp_path / "ran").exists()
    (tmp_path / ("d%d.yaml" % (MAX_DEPTH - 1))).write_text(
        "steps:\n  - name: leaf\n    command: touch ran\n")
    result = run_traceexec(["run", "-q", str(tmp_path / "d0.yaml")], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # exactly at the limit: runs
    assert (tmp_path / "ran").exists()


def test_megabyte_environment_reaches_a_dag_step(tmp_path, env):
    for i in range(10):  # one variable is capped at 128 KiB by Linux: ten of 100 KB
        env["BIG%d" % i] = str(i) * 100_000
    path = tmp_path / "env.yaml"
    path.write_text("steps:\n  - name: count\n    command: sh -c 'printf %s \"$BIG0$BIG9\" | wc -c'"
                    "\n    stdout: count.txt\n")
    result = run_traceexec(["run", "-q", str(path)], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "count.txt").read_text().strip() == "200000"


def test_checking_a_dag_executes_nothing_and_dry_run_shows_outside_paths(tmp_path, env):
    inside = tmp_path / "dags"
    inside.mkdir()
    (tmp_path / "outside.env").write_text("FROM_DOTENV=`touch dotenv-ran`\n")
    (tmp_path / "child.yaml").write_text("steps:\n  - name: c\n    command: touch child-ran\n")
    path = inside / "main.yaml"
    path.write_text("""\
dotenv: ../outside.env
env:
  - WHEN: "`touch env-ran`"
handlerOn:
  exit:
    command: touch handler-ran
steps:
  - name: write
    command: touch step-ran
    stdout: ../out.log
    preconditions:
      - condition: "`touch precondition-ran`"
        expected: "x"
  - name: nested
    run: ../child.yaml
""")
    for command in (["validate"], ["graph"], ["graph", "--mermaid"], ["run", "--dry-run"]):
        result = run_traceexec(command + [str(path)], env, cwd=inside)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in tmp_path.rglob("*ran")) == []
        if command == ["run", "--dry-run"]:
            out = result.stdout.decode()
            assert "paths outside %s:" % inside in out, out
            for what, target in (("dotenv", "outside.env"), ("step 'write' stdout", "out.log"),
                                 ("step 'nested' run", "child.yaml")):
                assert "%s: %s" % (what, os.path.realpath(tmp_path / target)) in out, out
    assert not (tmp_path / "out.log").exists()


def test_python_tags_are_refused_and_never_constructed(tmp_path, env):
    path = tmp_path / "tag.yaml"
    path.write_text("steps:\n  - name: a\n    command: !!python/object/apply:os.system "
                    "['touch pwned']\n")
    for command in (["validate"], ["graph"], ["run", "--dry-run"], ["run"]):
        result = subprocess.run(harness.TRACEEXEC + command + [str(path)], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result
        assert "unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "pwned").exists()
