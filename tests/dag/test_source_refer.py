"""source.may_refer: a file it says has no ``${`` gives no string with one, whatever way
YAML writes the string; load then skips reading the steps for references."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from traceexec.dag import load, source
from traceexec.dag.checks import DagInvalid
from traceexec.errors import SourceError

PIECES = st.lists(st.sampled_from(["$", "{", "}", "\\", "x24", "u0024", "x7b", "\\x24",
                                   "\\x7b", "\n", "\n  ", " ", "a", "'", '"', "#", ":"]),
                  max_size=8)
STYLES = ['command: %s\n', 'command: "%s"\n', "command: '%s'\n", "command: |\n  %s\n",
          "command: >\n  %s\n", "%s: x\n", "env:\n  - A: \"%s\"\n"]


def _strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


@settings(max_examples=500, deadline=None)
@given(pieces=PIECES, style=st.sampled_from(STYLES))
def test_no_string_has_a_reference_where_the_file_has_none_by_its_bytes(pieces, style):
    text = style % "".join(pieces)
    try:
        documents = source._parse_yaml(text, "f.yaml")
    except SourceError:
        return
    if any("${" in string for string in _strings(documents)):
        assert source.may_refer(text.encode())


@pytest.mark.parametrize("command, refers", [
    ("echo $HOME {x}", False), ("echo ${HOME}", True), ('"echo \\x24{NOSUCH.out}"', True),
    ('"echo $\\\n  {NOSUCH.out}"', True)])
def test_a_reference_written_any_way_is_checked(tmp_path, command, refers):
    path = tmp_path / "d.yaml"
    path.write_text("steps:\n  - name: a\n    command: %s\n" % command)
    assert source.may_refer(path.read_bytes()) is refers
    for _ in range(2):  # parsed, then from the parse cache
        if "NOSUCH" not in command:
            load.load(str(path), environ={"HOME": "/h"})
            continue
        with pytest.raises(DagInvalid) as invalid:
            load.load(str(path), environ={})
        assert [str(p) for p in invalid.value.problems] == [
            "%s:2: step 'a': ${NOSUCH...}: no variable or step named NOSUCH" % path]
