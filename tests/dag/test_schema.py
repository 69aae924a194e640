"""Schema detection's and normalisation's remembered key lookups agree with ``lookup``."""
from __future__ import annotations

import pytest

from traceexec.dag import model, schema, source

KINDS = sorted({kind for tables in schema.TABLES.values() for kind in tables})
KEYS = sorted({key for tables in schema.TABLES.values() for table in tables.values()
               for key in table} | {"nosuch", "NAME", "HandlerOn", "timeoutsec", ""})


def _fresh(key, kind, table_schema):
    return schema.lookup(schema.TABLES[table_schema].get(kind, {}), key, table_schema)


@pytest.mark.parametrize("kind", KINDS)
def test_a_verdict_is_what_both_lookups_say(kind):
    for key in KEYS + [key.lower() for key in KEYS] + [key.upper() for key in KEYS]:
        for _ in range(2):  # computed, then remembered
            spelled_v1, name_v1 = _fresh(key, kind, model.V1)
            spelled_v2, name_v2 = _fresh(key, kind, model.V2)
            vote = (None if (spelled_v1 is None) == (spelled_v2 is None) else
                    model.V1 if spelled_v1 is not None else model.V2)
            name = name_v1 if spelled_v1 is not None else name_v2
            assert schema._verdict(kind, key) == (vote, name), key


@pytest.mark.parametrize("table_schema", [model.V1, model.V2])
def test_a_remembered_spelling_is_what_lookup_says(table_schema):
    for kind, table in schema.TABLES[table_schema].items():
        for key in KEYS + [key.lower() for key in KEYS] + [1, True, None, 2.5]:
            for _ in range(2):
                assert schema._spelling(table, kind, key, table_schema) == \
                    schema.lookup(table, key, table_schema), key


def test_keys_that_are_not_strings_are_not_remembered_and_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(schema, "_VERDICTS", {})
    monkeypatch.setattr(schema, "_MEMO_LIMIT", 3)
    assert schema._verdict("step", 1) == (None, None)
    assert schema._verdict("step", True) == (None, None)
    assert schema._VERDICTS == {}
    for key in ("a", "b", "c", "d", "e"):
        schema._verdict("step", key)
    assert len(schema._VERDICTS) == 3


STEPS = [
    "steps:\n  - name: a\n    command: echo\n  - name: b\n    depends: a\n    command: x\n",
    "steps:\n  - name: a\n    command: [echo, hi]\n",
    "steps:\n  - name: a\n    command: [echo hi, echo there]\n",
    "steps:\n  - command: echo\n",
    "steps:\n  - echo hi\n",
    "steps:\n  - name: a\n    command: echo\n    continueOn: {failure: true}\n",
    "steps:\n  - name: a\n    command: echo\n    continue_on: {failure: true}\n",
    "steps:\n  - Name: a\n    command: echo\n",
    "steps:\n  - name: a\n    command: echo\n    output: {K: v}\n",
    "steps:\n  - - name: a\n      command: echo\n    - name: b\n      command: echo\n",
    "steps:\n  a:\n    command: echo\n  b:\n    name: b\n    command: echo\n",
    "type: graph\nsteps:\n  - name: a\n    command: echo\n    retryPolicy: {limit: 1}\n",
    "handlerOn:\n  exit:\n    command: echo\nsteps:\n  - name: a\n    command: echo\n",
]


@pytest.mark.parametrize("text", STEPS)
def test_steps_passed_over_as_neutral_cast_no_vote(tmp_path, monkeypatch, text):
    path = tmp_path / "d.yaml"
    path.write_text(text)
    documents = source.parse_all(str(path))

    def outcome():
        try:
            return schema.detect(documents)
        except schema.SchemaProblem as problem:
            return problem.message, problem.place
    short = outcome()
    monkeypatch.setattr(schema, "NEUTRAL_STEP_KEYS", frozenset())
    assert outcome() == short
