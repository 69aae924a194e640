"""Values written into scripts that no shell runs: where a value may stand, table-driven."""
from __future__ import annotations

import pytest

from traceexec.dag.pasting import CodeValue, paste
from traceexec.dag.variables import StepView, Unresolved

DEFINED = {"NAME": "Ada Lovelace", "N": "41", "NEG": "-1.5", "Q": 'say "hi"',
           "J": '{"f": "x-1", "g": "a\\"b"}', "1": "first", "EMPTY": "", "MAIL": "a@b.c"}
WRITTEN = [
    ('print("${NAME}")', 'print("Ada Lovelace")'),
    ("print('hello $NAME')", "print('hello Ada Lovelace')"),
    ("console.log(`${NAME}`)", "console.log(`Ada Lovelace`)"),
    ('x = ${N} + ${NEG}', "x = 41 + -1.5"),
    ('s = "${J.f}"', 's = "x-1"'),
    ('s = "${NAME:0:3}"', 's = "Ada"'),
    ('s = "${1}"', 's = "first"'),
    ('s = "${EMPTY}"', 's = ""'),
    ('s = "to ${MAIL}"', 's = "to a@b.c"'),
    ("print('${NAME}')", "print('${NAME}')"),           # alone in single quotes: as written
    ('print("\\${NAME}")', 'print("\\${NAME}")'),        # \$ stays for the interpreter
    ("print(`${other}`, $HOME)", "print(`${other}`, $HOME)"),  # not the DAG's: the script's
    ('x = "${MISSING:-fallback}"', 'x = "fallback"'),
    ('a = "it\\"s ${NAME}"', 'a = "it\\"s Ada Lovelace"'),   # an escaped quote stays inside
    ('a = "x"; b = ${N}', 'a = "x"; b = 41'),                # a closed string is left
    ('a = "open\nb = ${N}', 'a = "open\nb = 41'),            # a new line starts outside
]
REFUSED = [
    ('print(${NAME})', "outside a string"),
    ('print("${Q}")', "holds '\"'"),
    ('data = ${J}', "outside a string"),
    ('data = json.loads("${J}")', "holds '{'"),
    ('x = """\n${NAME}\n"""', "outside a string"),       # a string over lines: not seen inside
    ('# a comment ${NAME}', "outside a string"),
]


@pytest.mark.parametrize("text,expected", WRITTEN)
def test_values_written_where_they_cannot_be_code(text, expected):
    assert paste(text, DEFINED, {}, "python3", ["first"]) == expected


@pytest.mark.parametrize("text,why", REFUSED)
def test_values_refused_where_they_could_be_code(text, why):
    with pytest.raises(CodeValue) as caught:
        paste(text, DEFINED, {}, "python3", ["first"])
    message = str(caught.value)
    assert why in message and "python3" in message and "\n" not in message
    assert "Lovelace" not in message and "hi" not in message  # never the value itself


def test_step_references_and_missing_fields():
    steps = {"fetch": StepView("/runs/x/fetch.out", "/runs/x/fetch.err", 0, "ok")}
    assert paste('open("${fetch.stdout}")', {}, steps, "python3") == 'open("/runs/x/fetch.out")'
    assert paste("code = ${fetch.exitCode}", {}, steps, "node") == "code = 0"
    with pytest.raises(Unresolved):
        paste('"${J.nosuch}"', DEFINED, {}, "node")
    assert paste('"${nobody.field}"', DEFINED, {}, "node") == '"${nobody.field}"'
