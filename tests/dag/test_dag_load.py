"""DAG loading: the format, base config merge, variables, and bad input with file:line."""
from __future__ import annotations

import os
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from traceexec.dag import cli, load, plan, variables
from traceexec.dag.variables import Scope

from conftest import ROOT

EXAMPLES = os.path.join(ROOT, "examples", "dag")


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# (file contents, expected line, expected message part); extra files in INVALID_FILES
INVALID = [
    ("steps:\n  - name: a\n    command: [echo\n", 4, "YAML: "),
    ("steps:\n  - name: a\n    command: echo\n    depends: b\n"
     "  - name: b\n    command: echo\n    depends: a\n", 2, "dependency cycle: a -> b -> a"),
    ("steps:\n  - name: fetch\n    command: echo\n  - name: b\n    command: echo\n"
     "    depends: fecth\n", 6, "unknown step 'fecth' (did you mean 'fetch'?)"),
    ("steps:\n  - name: a\n    command: echo\n  - name: a\n    command: echo\n", 4,
     "duplicate step name 'a'"),
    ("timeoutSec: ten\nsteps:\n  - name: a\n    command: echo\n", 1, "bad timeoutSec 'ten'"),
    ("steps:\n  - name: a\n    command: echo\n    timeoutSec: 5 minutes\n", 4,
     "bad timeoutSec"),
    ("otel:\n  enabled: true\n  endpoint: collector\nsteps:\n  - name: a\n    command: echo\n",
     3, "invalid endpoint 'collector'"),
    ("otel:\n  enabled: true\nsteps:\n  - name: a\n    command: echo\n", 2,
     "otel.endpoint is required"),
    ("steps:\n  - name: a\n    command: echo\n    dependss: b\n", 4,
     "unknown step key 'dependss' (did you mean 'depends'?)"),
    ("stepz:\n  - name: a\n", 1, "unknown DAG key 'stepz' (did you mean 'steps'?)"),
    ("steps:\n  - name: a\n    command: !!python/object/apply:os.system [echo hi]\n", 3,
     "unsupported YAML tag"),
    ("steps:\n  - name: a\n    description: nothing\n", 2, "has nothing to run"),
    ("type: tree\nsteps:\n  - name: a\n    command: echo\n", 1, "type must be one of"),
    ("steps:\n  - name: a\n    command: echo\n    executor: docker\n", 4,
     "executor 'docker' is not supported"),
    ("steps:\n  - name: a\n    command: echo\n    retryPolicy: {limit: -1}\n", 4,
     "limit must be a whole number"),
    ("name: x\nname: y\nsteps: []\n", 2, "duplicate key 'name'"),
    ("steps:\n  - name: a\n    run: self.yaml\n", 3, "DAG runs itself: self.yaml -> self.yaml"),
    ("steps:\n  - name: a\n    run: loop-b.yaml\n", 3, "DAG runs itself: bad.yaml -> loop-b.yaml -> bad.yaml"),
]
INVALID_FILES = {"self.yaml": "steps:\n  - name: again\n    run: self.yaml\n",
                 "loop-b.yaml": "steps:\n  - name: back\n    run: bad.yaml\n"}


@pytest.mark.parametrize("text,line,message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_dag_is_one_line_with_file_and_line(tmp_path, capsys, text, line, message):
    for name, body in INVALID_FILES.items():
        write(tmp_path, name, body)
    path = write(tmp_path, "bad.yaml" if "self.yaml" not in text else "self.yaml",
                 text if "self.yaml" not in text else INVALID_FILES["self.yaml"])
    status = cli.validate_main([path])
    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err
    # a loop through other files is reported where it closes
    expected_path = str(tmp_path / "loop-b.yaml") if "loop-b" in text else path
    lines = [entry for entry in err.splitlines() if message in entry]
    assert lines, err
    assert lines[0].startswith("traceexec: %s:%d" % (expected_path, line)), err


def test_step_problems_name_the_steps_and_depends_places_in_full(tmp_path):
    """A step's place, and that of its ``depends``, as each message gives them: the
    first step of a name or id as ``file:line`` too."""
    path = write(tmp_path, "dag:1.yaml", """\
        steps:
          - name: a
            id: a_1
            command: echo
          - name: a
            id: a_1
            command: echo
          - name: b
            id: env
            command: echo
        """)
    with pytest.raises(load.DagInvalid) as invalid:
        load.load(path)
    assert [str(problem) for problem in invalid.value.problems] == [
        "%s:5: duplicate step name 'a' (first at %s:2)" % (path, path),
        "%s:5: duplicate step id 'a_1' (first at %s:2)" % (path, path),
        "%s:8: step id 'env' is a reserved word" % path]
    path = write(tmp_path, "chain.yaml", """\
        type: chain
        steps:
          - name: a
            command: echo
          - command: echo
            depends:
              - a
        """)
    with pytest.raises(load.DagInvalid) as invalid:
        load.load(path)
    assert [str(problem) for problem in invalid.value.problems] == [
        "%s:6: step 'cmd_2': depends is not allowed in a chain DAG; add type: graph" % path]


def test_run_and_graph_refuse_bad_files_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", "steps:\n  - name: a\n    command: touch ran\n"
                 "    depends: nowhere\n")
    assert cli.run_main([path]) == 2
    assert cli.graph_main([path]) == 2
    assert "unknown step 'nowhere'" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists()


def test_validate_lists_every_problem(tmp_path, capsys):
    path = write(tmp_path, "two.yaml", """\
        timeoutSec: soon
        steps:
          - name: a
            command: echo
            depends: zzz
        """)
    assert cli.validate_main([path]) == 2
    err = capsys.readouterr().err
    assert "%s:1: bad timeoutSec" % path in err
    assert "%s:5: step 'a' depends on unknown step 'zzz'" % path in err


def test_server_keys_are_a_notice_not_an_error(tmp_path, capsys):
    path = write(tmp_path, "cron.yaml", """\
        schedule: "0 * * * *"
        tags: [nightly]
        steps:
          - name: a
            command: echo
        """)
    assert cli.validate_main([path]) == 0
    captured = capsys.readouterr()
    assert "ok (1 step)" in captured.out
    assert "schedule with cron" in captured.err


def test_server_keys_of_a_step_are_a_notice_too(tmp_path, capsys):
    """mailOnError (v1) and mail_on_error (v2) on a step: said, with the place, as at the
    DAG level, rather than dropped without a word."""
    for name, key in (("v1.yaml", "mailOnError"), ("v2.yaml", "mail_on_error")):
        path = write(tmp_path, name, """\
            steps:
              - name: a
                command: echo
                %s: true
            """ % key)
        assert cli.validate_main([path]) == 0
        err = capsys.readouterr().err
        assert "%s:4: %s is for a Dagu server and is ignored" % (path, key) in err, err


def test_every_example_validates(capsys):
    names = sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".yaml"))
    assert len(names) >= 8
    assert cli.validate_main([os.path.join(EXAMPLES, n) for n in names]) == 0


def test_chain_is_the_default_without_depends(tmp_path):
    dag = load.load(write(tmp_path, "c.yaml", """\
        steps:
          - {name: a, command: echo}
          - {name: b, command: echo}
          - {name: c, command: echo}
        """))
    assert dag.type == "chain"
    assert [s.depends for s in dag.steps] == [[], ["a"], ["b"]]


def test_graph_when_a_step_declares_depends_and_ids_resolve(tmp_path):
    dag = load.load(write(tmp_path, "g.yaml", """\
        name: custom
        steps:
          - {name: fetch data, id: fetch, command: echo}
          - {name: left, command: echo, depends: fetch}
          - {name: right, command: echo, depends: [fetch]}
          - {name: join, command: echo, depends: [left, right]}
        """))
    assert dag.name == "custom" and dag.type == "chain"  # Dagu 1: chain unless type: graph
    assert dag.step("left").depends == ["fetch data"]
    assert dag.step("join").depends == ["left", "right"]
    assert "\n  join        <- left, right\n" in plan.text(dag)
    mermaid = plan.mermaid(dag)
    assert mermaid.startswith("flowchart TD") and "s1 --> s3" in mermaid


def test_name_defaults_to_file_stem(tmp_path):
    assert load.load(write(tmp_path, "nightly.yml", "steps:\n  - {name: a, command: x}\n")
                     ).name == "nightly"


def test_base_config_merges_maps_and_replaces_lists(tmp_path):
    base = write(tmp_path, "base.yaml", """\
        env:
          - FROM_BASE: yes
        otel:
          enabled: true
          endpoint: collector:4317
          resource: {team: data, tier: gold}
        steps:
          - {name: base-step, command: echo}
        """)
    dag = load.load(write(tmp_path, "d.yaml", """\
        otel:
          enabled: false
          resource: {tier: silver}
        steps:
          - {name: own, command: echo}
        """), base=base)
    assert dag.otel["enabled"] is False
    assert dict(dag.otel["resource"]) == {"team": "data", "tier": "silver"}
    assert dag.otel["endpoint"] == "collector:4317"
    assert [s.name for s in dag.steps] == ["own"]
    assert dag.env == [("FROM_BASE", "True")] or dag.env == [("FROM_BASE", "true")]


def test_base_config_is_found_by_variable_then_xdg(tmp_path):
    (tmp_path / "traceexec").mkdir()
    xdg = write(tmp_path / "traceexec", "base.yaml", "env: []\n")
    assert load.find_base("flag.yaml", {"TRACEEXEC_BASE_CONFIG": "x"}) == "flag.yaml"
    assert load.find_base(None, {"TRACEEXEC_BASE_CONFIG": "x"}) == "x"
    assert load.find_base(None, {"XDG_CONFIG_HOME": str(tmp_path)}) == xdg
    assert load.find_base(None, {"XDG_CONFIG_HOME": str(tmp_path / "none")}) is None


def test_errors_in_a_base_config_name_the_base_file(tmp_path, capsys):
    base = write(tmp_path, "base.yaml", "otel:\n  enabeld: true\n")
    path = write(tmp_path, "d.yaml", "steps:\n  - {name: a, command: echo}\n")
    assert cli.validate_main(["--base", base, path]) == 2
    assert "%s:2: unknown otel key 'enabeld' (did you mean 'enabled'?)" % base in \
        capsys.readouterr().err


@pytest.mark.parametrize("text,values,expected", [
    ("$A-${B}", {"A": "1", "B": "2"}, "1-2"),
    ("${MISSING}x", {}, "x"),
    ("${MISSING:-dflt}", {}, "dflt"),
    ("${SET:-dflt}", {"SET": "v"}, "v"),
    ("$1 and ${2}", {}, "p1 and p2"),
    ("cost $5", {}, "cost "),
    ("no vars", {}, "no vars"),
])
def test_expand(text, values, expected):
    assert variables.expand(text, values, positional=["p1", "p2"]) == expected


def test_expand_keeps_unknown_names_for_scripts():
    assert variables.expand("$i and $A", {"A": "a"}, keep_unknown=True) == "$i and a"


def test_params_named_positional_and_overrides():
    params = variables.parse_params("A=1 B='two words' pos1 pos2")
    assert params == [("A", "1"), ("B", "two words"), (None, "pos1"), (None, "pos2")]
    merged = variables.override_params(params, variables.parse_params("B=2 C=3 first"))
    assert merged == [("A", "1"), ("B", "2"), (None, "first"), (None, "pos2"), ("C", "3")]
    assert variables.parse_params(variables.format_params(merged)) == merged


def test_variables_layer_dotenv_params_env_in_order(tmp_path):
    write(tmp_path, ".env", "FROM_DOTENV=d\nSHARED=dotenv\n")
    dag = load.load(write(tmp_path, "v.yaml", """\
        dotenv: .env
        params: "P=${FROM_DOTENV}-p SHARED=param"
        env:
          - FIRST: ${P}/first
          - SECOND: ${FIRST}/second
          - SHARED: env
        steps:
          - {name: a, command: echo}
        """))
    scope = Scope({"FROM_PROCESS": "x", "SHARED": "process"}, dag, dag.params, "run-1")
    assert scope.values["SECOND"] == "d-p/first/second"
    assert scope.values["SHARED"] == "env"
    assert scope.values["DAG_NAME"] == "v" and scope.values["DAG_RUN_ID"] == "run-1"
    assert scope.values["FROM_PROCESS"] == "x"
    step_values = scope.layered({"OUT": "o"}, [("LOCAL", "${OUT}+${SHARED}")])
    assert step_values["LOCAL"] == "o+env"


def test_backticks_are_not_run_when_only_checking(tmp_path):
    dag = load.load(write(tmp_path, "b.yaml", """\
        env:
          - WHEN: "`touch ran; echo now`"
        steps:
          - {name: a, command: echo}
        """))
    scope = Scope({}, dag, dag.params, "r")
    assert scope.values["WHEN"] == "`touch ran; echo now`"
    assert not (tmp_path / "ran").exists()


def test_dry_run_executes_nothing_and_names_outside_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Dagu 1 runs steps where it was started
    path = write(tmp_path, "dry.yaml", """\
        steps:
          - name: write
            command: touch marker
            dir: ../elsewhere
            stdout: /dev/null
          - name: inside
            command: echo
            preconditions:
              - touch precondition-ran
        """)
    assert cli.run_main([path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1. write: touch marker" in out
    assert "paths outside %s:" % tmp_path in out
    assert "step 'write' dir: %s" % os.path.realpath(tmp_path.parent / "elsewhere") in out
    assert "step 'write' stdout: /dev/null" in out
    assert not (tmp_path / "marker").exists()
    assert not (tmp_path / "precondition-ran").exists()


# (graph of name: the names it depends on) for load.has_cycle, judged beside graphlib
GRAPHS = [
    {}, {"a": []}, {"a": ["a"]}, {"a": ["b"], "b": []}, {"a": ["b"], "b": ["a"]},
    {"a": ["b", "b"], "b": []}, {"a": ["b", "b"], "b": ["c"], "c": ["a"]},
    {"a": [], "b": ["a"], "c": ["a", "b"], "d": ["c"]},
    {"a": [], "b": ["a", "d"], "c": ["b"], "d": ["c"]},
    {"s%d" % i: ["s%d" % (i - 1)] if i else [] for i in range(3000)},
    dict({"s%d" % i: ["s%d" % (i - 1)] if i else [] for i in range(50)}, s0=["s49"]),
]


@pytest.mark.parametrize("graph", GRAPHS)
def test_has_cycle_finds_what_graphlib_finds(graph):
    import graphlib
    try:
        graphlib.TopologicalSorter(graph).prepare()
        cyclic = False
    except graphlib.CycleError:
        cyclic = True
    assert load.has_cycle(graph) is cyclic


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(st.sampled_from("abcdefg"),
                                                            max_size=3), max_size=6))
def test_has_cycle_finds_what_graphlib_finds_in_any_order(graph):
    import graphlib
    try:
        graphlib.TopologicalSorter(graph).prepare()
        cyclic = False
    except graphlib.CycleError:
        cyclic = True
    assert load.has_cycle(graph) is cyclic


def test_the_environment_given_to_load_is_the_one_its_checks_read(tmp_path, monkeypatch):
    """``load(environ=...)``: a run reads os.environ once and hands the copy on; the
    references and size checks read that copy, not os.environ again."""
    monkeypatch.delenv("ONLY_GIVEN", raising=False)
    path = write(tmp_path, "dag.yaml", """\
        steps:
          - name: a
            command: echo ${ONLY_GIVEN.field}
            env:
              - BIG: ${ONLY_GIVEN}${ONLY_GIVEN}
        """)
    assert load.load(path, environ={"ONLY_GIVEN": "{}"}).steps[0].name == "a"
    with pytest.raises(load.DagInvalid):
        load.load(path, environ={})
    with pytest.raises(load.DagInvalid) as too_big:  # the sizes come from the copy too
        load.load(path, environ={"ONLY_GIVEN": "x" * (3 << 20)})
    assert "would expand to" in str(too_big.value.problems[0])
