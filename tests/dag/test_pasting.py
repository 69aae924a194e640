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
# Python and JavaScript read \xNN and \uNNNN alike: any value is written in a string,
# escaped so that it cannot end a string, a template, a comment or a regular expression
ESCAPED = [
    ("python3", 'print("${Q}")', 'print("say \\x22hi\\x22")'),
    ("python3", "data = json.loads('x${J}')",
     "data = json.loads('x\\x7b\\x22f\\x22: \\x22x-1\\x22, \\x22g\\x22: "
     "\\x22a\\x5c\\x22b\\x22\\x7d')"),
    ("python3.11", 'f"""${Q}"""', 'f"""say \\x22hi\\x22"""'),
    ("node", "console.log(`${Q} ${MAIL}`)", "console.log(`say \\x22hi\\x22 a@b.c`)"),
    ("node", "s = 'line ${ODD}'", "s = 'line 1\\x0a2\\u2028\\x60\\x24\\x7b\\x7d \U0001f600'"),
]
# Python's r"..." and b"..." do not read escapes: there plain words only, as for ruby
RAW = [('r"${NAME}"', 'r"Ada Lovelace"'), ('x = rb"${N}"', 'x = rb"41"'),
       ('return"${Q}"', 'return"say \\x22hi\\x22"')]
REFUSED = [
    ("python3", 'open(r"${Q}")', "holds '\"'"),
    ("python3", 'print(${NAME})', "outside a string"),
    ("node", 'data = ${J}', "outside a string"),
    ("python3", 'x = """\n${NAME}\n"""', "outside a string"),  # a string over lines
    ("python3", '# a comment ${NAME}', "outside a string"),
    ("ruby", 'puts "${Q}"', "holds '\"'"),        # its strings interpolate: plain words only
    ("perl", 'print "${J}";', "holds '{'"),
    # after a / the quotes may be a regular expression's, so not a string: x = /'/; y = code
    ("node", "x = /'/; y = ${NAME}; z = 'a'", "outside a string"),
    ("node", 'x = /"${NAME}"/', "outside a string"),
    ("node", 'n = a / 2; s = "${NAME}"', "outside a string"),
]
MORE = dict(DEFINED, PATHS="a/b*/c", ODD="1\n2\u2028`${} \U0001f600")


@pytest.mark.parametrize("text,expected", WRITTEN)
def test_values_written_where_they_cannot_be_code(text, expected):
    assert paste(text, DEFINED, {}, "perl", ["first"]) == expected


@pytest.mark.parametrize("interpreter,text,expected", ESCAPED)
def test_any_value_escaped_in_a_python_or_javascript_string(interpreter, text, expected):
    assert paste(text, MORE, {}, interpreter) == expected


@pytest.mark.parametrize("text,expected", RAW)
def test_raw_and_bytes_strings_take_plain_words(text, expected):
    assert paste(text, DEFINED, {}, "python3") == expected


@pytest.mark.parametrize("interpreter,text,why", REFUSED)
def test_values_refused_where_they_could_be_code(interpreter, text, why):
    with pytest.raises(CodeValue) as caught:
        paste(text, DEFINED, {}, interpreter, ["first"])
    message = str(caught.value)
    assert why in message and interpreter in message and "\n" not in message
    assert "Lovelace" not in message and "hi" not in message  # never the value itself


def test_step_references_and_missing_fields():
    steps = {"fetch": StepView("/runs/x/fetch.out", "/runs/x/fetch.err", 0, "ok")}
    assert paste('open("${fetch.stdout}")', {}, steps, "python3") == 'open("/runs/x/fetch.out")'
    assert paste("code = ${fetch.exitCode}", {}, steps, "node") == "code = 0"
    with pytest.raises(Unresolved):
        paste('"${J.nosuch}"', DEFINED, {}, "node")
    assert paste('"${nobody.field}"', DEFINED, {}, "node") == '"${nobody.field}"'
