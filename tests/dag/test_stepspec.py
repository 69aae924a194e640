"""stepspec: a plain step (a name, a command, depends) read by the short way is the step
the full reading gives, field by field, with the same problems."""
from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from traceexec.dag import load, model, stepspec
from traceexec.dag.checks import Checker, DagInvalid
from traceexec.dag.source import Mapping, Sequence

PLAIN = {
    "v1 plain": """
        steps:
          - name: a
            command: echo a
          - name: b
            command: ["/bin/echo", "b c"]
            depends: a
          - name: c
            command: "  spaced  "
            depends: [a, b]
        """,
    "v2 plain": """
        type: graph
        steps:
          - name: a
            command: echo a
          - command: echo unnamed
          - echo as a string
          - name: multi
            command: |
              echo one
              echo two
          - name: lines
            command: [echo x, "echo y: z"]
            depends: [a]
        """,
    "v2 with defaults": """
        defaults:
          retry_policy:
            limit: 2
            interval_sec: 1
        steps:
          - name: a
            command: echo a
        """,
    "v2 with an ssh block": """
        ssh:
          user: me
          host: example.com
        steps:
          - name: a
            command: echo a
        """,
    "plain beside others": """
        steps:
          - name: a
            command: echo a
            env:
              - X: 1
          - name: b
            command: echo b
            output: OUT
            continue_on:
              failure: true
        """,
}
BAD = {
    "an empty command": """
        steps:
          - name: a
            command: "  "
        """,
    "no command": """
        steps:
          - name: a
            depends: []
        """,
}


def _load(tmp_path, text, monkeypatch, short):
    if not short:
        monkeypatch.setattr(stepspec, "PLAIN_KEYS", frozenset())
    path = tmp_path / "dag.yaml"  # one file read both ways: places name it alike
    path.write_text(textwrap.dedent(text))
    try:
        dag = load.load(str(path))
    except DagInvalid as error:
        return None, [str(p).replace(str(path), "F") for p in error.problems]
    finally:
        monkeypatch.undo()
    return dag, [str(n).replace(str(path), "F") for n in dag.notices]


def _fields(step) -> dict:
    fields = {name: getattr(step, name) for name in type(step).__slots__}
    if fields["remote"] is not None:  # an ssh target, equal by what it holds
        fields["remote"] = vars(fields["remote"]) if hasattr(fields["remote"], "__dict__") \
            else {n: getattr(fields["remote"], n) for n in type(fields["remote"]).__slots__}
    return fields


@pytest.mark.parametrize("name", list(PLAIN) + list(BAD))
def test_a_plain_step_reads_as_the_full_reading_gives_it(tmp_path, monkeypatch, name):
    text = PLAIN.get(name) or BAD[name]
    short, short_notes = _load(tmp_path, text, monkeypatch, short=True)
    full, full_notes = _load(tmp_path, text, monkeypatch, short=False)
    assert short_notes == full_notes
    if name in BAD:
        assert short is None and full is None and short_notes
        return
    assert [_fields(s) for s in short.steps] == [_fields(s) for s in full.steps]


def test_the_short_way_is_taken_for_plain_steps_only(tmp_path, monkeypatch):
    read = []  # the steps whose executor the full reading looked for
    executor = stepspec._executor

    def spy(s, *rest):
        read.append(s.get("name"))
        return executor(s, *rest)
    monkeypatch.setattr(stepspec, "_executor", spy)
    path = tmp_path / "d.yaml"
    path.write_text(textwrap.dedent(PLAIN["plain beside others"]))
    assert [s.name for s in load.load(str(path)).steps] == ["a", "b"]
    assert read == ["a", "b"]
    read.clear()
    path.write_text(textwrap.dedent(PLAIN["v1 plain"]))
    assert [s.name for s in load.load(str(path)).steps] == ["a", "b", "c"]
    assert read == []


def test_plain_keys_are_their_own_loader_names_in_both_schemas():
    # a step of them alone is read as written, without normalize's copy
    from traceexec.dag import schema
    for table in (schema.V1_STEP, schema.V2_STEP):
        assert all(table.get(key) == key for key in stepspec.PLAIN_KEYS)


def test_a_plain_step_beside_defaults_still_takes_them(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("defaults:\n  timeout_sec: 5\nsteps:\n  - name: a\n    command: 'true'\n")
    assert load.load(str(path)).steps[0].timeout_s == 5.0


# -- build_sequence's own short way: a name and a one-line command, both strings ----------

_TEXTS = st.one_of(st.text(alphabet=" \t\na:#$b{}", max_size=6), st.none(), st.integers(),
                   st.booleans())


def _sequence(items):
    steps = Sequence(("F", 1))
    for line, (name, command) in enumerate(items, start=2):
        item = Mapping(("F", line))
        for key, value in (("name", name), ("command", command)):
            if value is not None:
                item[key] = value
                item.places[key] = ("F", line)
        steps.append(item)
        steps.places.append(("F", line))
    return steps


def _built(steps, schema, monkeypatch, short):
    if not short:
        monkeypatch.setattr(stepspec, "PLAIN_KEYS", frozenset())
    try:
        check, names = Checker(), set()
        dag = model.Dag(name="d", path="F", schema=schema)
        built = stepspec.build_sequence(steps, dag, schema, check, None, names)
    finally:
        monkeypatch.undo()
    return ([(_fields(step), index, given) for step, index, given in built],
            [str(p) for p in check.problems], names, dag.notices)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.tuples(_TEXTS, _TEXTS), max_size=4),
       schema=st.sampled_from([model.V1, model.V2]))
def test_the_short_way_of_a_list_of_steps_gives_what_build_gives(items, schema):
    monkeypatch = pytest.MonkeyPatch()
    steps = _sequence(items)
    assert _built(steps, schema, monkeypatch, True) == _built(steps, schema, monkeypatch, False)


@given(name=st.text(max_size=5), place=st.tuples(st.text(max_size=3), st.integers()),
       command=st.text(max_size=5))
def test_a_plain_step_is_the_step_the_record_makes(name, place, command):
    assert _fields(model.plain_step(name, place, command)) == _fields(
        model.Step(name=name, place=place, command=command))
