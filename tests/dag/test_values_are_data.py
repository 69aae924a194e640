"""Values are data: every step form crossed with every reference kind and hostile values.

Each value below, if it were ever parsed as shell syntax, would create a marker
file.  For every step form (a shell line, v2 ``exec:``, ``shell: direct``, a v1
argv list, a ``script:``) and every way a value reaches a step (``${P}``,
``$P``, ``${OUT.field}`` of JSON, ``${P:o:l}``, a step's output, a positional
param, dotenv, an env entry built from a param), the step prints the value with
``printf %s`` and the test asserts that it arrived byte-exact and that no
marker exists.  Real processes, one DAG per form.
"""
from __future__ import annotations

import io
import json

import pytest

from conftest import traceexec_env
from traceexec.dag import load, model, run, telemetry
from traceexec.dag.progress import Progress
from traceexec.dag.variables import load_dotenv

HOSTILE = (
    "`touch {m}`",
    "$(touch {m})",
    '"; touch {m}; "',
    "'; touch {m}; '",
    "a;touch {m}|b&&c",
    "x\ntouch {m}\ny",
    "${{HOME}}$HOME\\`touch {m}`$(<{m})",
)

# How each kind of reference is written in a step, given the value's index i.
REFERENCES = {
    "braced": "${P%d}",
    "bare": "$P%d",
    "json-field": "${J%d.f}",
    "substring": "${Q%d:2:%d}",
    "output": "${O%d}",
    "positional": "$%d",
    "dotenv": "${D%d}",
    "env": "${E%d}",
}


def reference(kind, i, value):
    if kind == "substring":
        return REFERENCES[kind] % (i, len(value))
    return REFERENCES[kind] % i


def dotenv_quoted(value):
    """Quoted for a dotenv file (whose parser expands ``${HOME}`` itself: the file is
    the author's, so the value expected is what the parser gives)."""
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")


def step_body(form, ref, shell_ref):
    """The YAML of one step's command in ``form``, printing ``ref``."""
    if form == "shell":
        return "command: %s" % json.dumps("printf '%%s' \"%s\"" % shell_ref)
    if form == "script":
        return "script: %s" % json.dumps("printf '%%s' \"%s\"\n" % shell_ref)
    if form == "exec":
        return "exec: {command: printf, args: [\"%%s\", %s]}" % json.dumps(ref)
    if form == "direct":
        return "shell: direct\n    command: %s" % json.dumps("printf %s " + ref)
    if form == "argv":
        return "command: [printf, \"%%s\", %s]" % json.dumps(ref)
    raise AssertionError(form)


SCHEMA = {"shell": "", "script": "", "argv": "", "exec": "v2", "direct": "v2"}


def write_sources(tmp_path, values) -> list:
    """Each value as dotenv entry ``D<i>``, as file ``v<i>`` and in JSON file ``j<i>``; the
    YAML of the steps that read those files into outputs ``O<i>`` and ``J<i>``."""
    (tmp_path / ".env").write_text("".join("D%d=%s\n" % (i, dotenv_quoted(v))
                                           for i, v in enumerate(values, 1)))
    producers = []
    for i, value in enumerate(values, 1):
        (tmp_path / ("v%d" % i)).write_text(value)
        (tmp_path / ("j%d" % i)).write_text(json.dumps({"f": value}))
        producers.append("  - name: out%d\n    command: cat %s/v%d\n    output: O%d\n" % (
            i, tmp_path, i, i))
        producers.append("  - name: json%d\n    command: cat %s/j%d\n    output: J%d\n" % (
            i, tmp_path, i, i))
    return producers


@pytest.mark.parametrize("form", ["shell", "script", "exec", "direct", "argv"])
def test_no_value_runs_as_code(form, tmp_path, home):
    values = [v.format(m=tmp_path / ("marker-%d" % i)) for i, v in enumerate(HOSTILE, 1)]
    producers = write_sources(tmp_path, values)
    dotenv = load_dotenv([str(tmp_path / ".env")])
    consumers, expected = [], {}
    for i, value in enumerate(values, 1):
        for kind in REFERENCES:
            ref = reference(kind, i, value)
            shell_ref = "$P%d" % i if kind == "bare" else ref
            name = "%s-%d" % (kind, i)
            consumers.append("  - name: %s\n    depends: [out%d, json%d]\n    %s\n" % (
                name, i, i, step_body(form, ref, shell_ref)))
            expected[name] = dotenv["D%d" % i] if kind == "dotenv" else value
    env = "".join("  - E%d: pre-${P%d}\n" % (i, i) for i in range(1, len(values) + 1))
    text = "%sname: values\ntype: graph\ndotenv: .env\nenv:\n%ssteps:\n%s%s" % (
        "", env, "".join(producers), "".join(consumers))
    if SCHEMA[form] == "":
        text = text.replace("type: graph\n", "")
    # the env entry is "pre-" + value: strip it in what the step prints
    for i in range(1, len(values) + 1):
        text = text.replace("${E%d}" % i, "${E%d:4}" % i) if form in ("exec", "direct", "argv") \
            else text
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    dag = load.load(str(path))
    params = [("P%d" % i, v) for i, v in enumerate(values, 1)] + \
        [("Q%d" % i, "xx" + v) for i, v in enumerate(values, 1)] + \
        [(None, v) for v in values]
    err = io.BytesIO()
    result = run.execute(dag, environ=traceexec_env(home), params=params,
                         recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=err, out=err, prefix=True),
                         home=str(home), cwd=str(tmp_path))
    markers = sorted(p.name for p in tmp_path.glob("marker-*"))
    assert markers == [], "value ran as code: %s\n%s" % (markers, err.getvalue().decode())
    got = {}
    for step in result.steps:
        if step.step.name in expected:
            assert step.status == model.SUCCEEDED, (step.step.name, step.reason, step.argv)
            with open(step.logs["stdout"], "rb") as handle:
                got[step.step.name] = handle.read().decode()
            if step.step.name.startswith("env-") and form not in ("exec", "direct", "argv"):
                got[step.step.name] = got[step.step.name][len("pre-"):]
    wrong = {n: (got.get(n), v) for n, v in expected.items() if got.get(n) != v}
    assert not wrong, "%d of %d arrived changed, e.g. %r\n%s" % (
        len(wrong), len(expected), sorted(wrong.items())[:3], err.getvalue().decode()[-2000:])
    assert all(s.status == model.SUCCEEDED for s in result.steps)


def test_conditions_quotes_and_sub_dag_params(tmp_path, home):
    """Preconditions (a shell condition and condition/expected, which Dagu matches line
    by line), a Dagu reference inside single quotes, and a sub-DAG's params: the value
    arrives whole and never runs."""
    value = "'; touch {m}; ' \"x y\"\n`touch {m}`$(touch {m})".format(m=tmp_path / "marker")
    (tmp_path / "v").write_text(value)
    (tmp_path / "child.yaml").write_text(
        "params: V=none\nsteps:\n  - name: show\n    command: printf '%%s' \"$V\" > %s/got\n"
        % tmp_path)
    n = len(value)
    (tmp_path / "dag.yaml").write_text(f"""\
steps:
  - name: out
    command: cat {tmp_path}/v
    output: O
  - name: quoted
    depends: [out]
    command: printf '%s' '${{O:0:{n}}}'
  - name: shell-condition
    depends: [out]
    preconditions:
      - condition: test "${{O:0:{n}}}" = "$O"
    command: printf '%s' "$O"
  - name: expected
    depends: [out]
    preconditions:
      - condition: "${{O}}"
        expected: {json.dumps(value.split(chr(10))[1])}
    command: printf '%s' "$O"
  - name: sub
    depends: [out]
    run: child
    params: V="${{O}}"
""")
    dag = load.load(str(tmp_path / "dag.yaml"))
    err = io.BytesIO()
    result = run.execute(dag, environ=traceexec_env(home), recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=err, out=err, prefix=True),
                         home=str(home), cwd=str(tmp_path))
    assert not (tmp_path / "marker").exists(), err.getvalue().decode()
    by_name = {s.step.name: s for s in result.steps}
    for name in ("quoted", "shell-condition", "expected"):
        assert by_name[name].status == model.SUCCEEDED, (name, by_name[name].reason)
        with open(by_name[name].logs["stdout"], encoding="utf-8") as handle:
            assert handle.read() == value, name
    assert by_name["sub"].status == model.SUCCEEDED, err.getvalue().decode()
    assert (tmp_path / "got").read_text() == value


# Scripts run by an interpreter that is not a shell.  Dagu writes values into their
# text; traceexec writes one only where it cannot be code (a string literal's plain
# words, a number elsewhere) and otherwise fails the step in one line.
BENIGN = ("hello", "2026-12-07", "/data/in put.csv", "user@example.com",
          "a=b,c:d+e%f-g_h.i", "h\u00e9llo w\u00f6rld", "")
HOSTILE_CODE = (
    '"+__import__("os").system("touch {m}")+"',
    "\"+require('fs').writeFileSync('{m}','')+\"",
    '\\"+__import__("os").system("touch {m}")+\\"',
    "x\");__import__('os').system('touch {m}');print(\"",
    "x\\n\"+require('fs').writeFileSync('{m}','')+\"",
    "x\n__import__('os').system('touch {m}')\nrequire('fs').writeFileSync('{m}','')",
    "`touch {m}`$(touch {m})",
    "'; system(\"touch {m}\"); '@{{[ system(\"touch {m}\") ]}}",
    "\\x27+__import__('os').system('touch {m}')+\\x27",
)
WRITER = {"python3": "import sys\nsys.stdout.write(\"%s\")\n",
          "perl": "print substr('-%s', 1);\n",
          "node": "process.stdout.write(\"%s\")\n"}


def interpreter_step(language, form, ref):
    script = json.dumps(WRITER[language] % ref)
    if form == "line":  # a command line run by a shell: that is not a shell (python3 -c)
        return "shell: %s\n    command: %s" % (
            language, json.dumps(WRITER[language].strip().replace("\n", "; ") % ref))
    if form == "command":
        return "command: %s\n    script: %s" % (language, script)
    if form == "shell":
        return "shell: %s\n    script: %s" % (language, script)
    return "script: %s" % json.dumps("#!/usr/bin/env %s\n" % language +
                                     WRITER[language] % ref)


def _interpreter_dag(tmp_path, language, form, values):
    producers = write_sources(tmp_path, values)
    consumers, expected = [], {}
    for i, value in enumerate(values, 1):
        for kind in REFERENCES:
            ref = reference(kind, i, value).replace("${E%d}" % i, "${E%d:4}" % i)
            if kind == "positional":
                ref = "${%d}" % i  # $10 is $1 then 0
            name = "%s-%d" % (kind, i)
            consumers.append("  - name: %s\n    depends: [out%d, json%d]\n    %s\n" % (
                name, i, i, interpreter_step(language, form, ref)))
            expected[name] = value
    env = "".join("  - E%d: pre-${P%d}\n" % (i, i) for i in range(1, len(values) + 1))
    text = "name: scripts\n%sdotenv: .env\nenv:\n%ssteps:\n%s%s" % (
        "type: graph\n" if form in ("shell", "line") else "", env, "".join(producers),
        "".join(consumers))
    (tmp_path / "dag.yaml").write_text(text)
    dag = load.load(str(tmp_path / "dag.yaml"))
    params = [("P%d" % i, v) for i, v in enumerate(values, 1)] + \
        [("Q%d" % i, "xx" + v) for i, v in enumerate(values, 1)] + \
        [(None, v) for v in values]
    return dag, params, expected


def _run_interpreter_dag(tmp_path, home, dag, params):
    err = io.BytesIO()
    result = run.execute(dag, environ=traceexec_env(home), params=params,
                         recorder=telemetry.MemoryRecorder(),
                         progress=Progress(dag.name, err=err, out=err, prefix=True),
                         home=str(home), cwd=str(tmp_path))
    return result, err.getvalue().decode("utf-8", "replace")


def _printed(step):
    """What the step wrote on stdout ('' when it wrote nothing or never started)."""
    try:
        with open(step.logs["stdout"], "rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return ""


@pytest.mark.parametrize("language,form", [
    (language, form) for language in ("python3", "node")
    for form in ("command", "shell", "shebang")] + [("python3", "line"), ("perl", "command")])
def test_interpreter_scripts_keep_values_data(language, form, tmp_path, home):
    """A ``script:`` run by python3 or node: any value is written into the string literal
    with escapes both languages read, and arrives byte-exact.  Under perl, whose strings
    may interpolate, a benign value is written as Dagu writes it and arrives byte-exact;
    any other never runs: the step fails saying so, in one line."""
    hostile = [v.format(m=tmp_path / ("marker-%d" % i)) for i, v in enumerate(HOSTILE_CODE, 1)]
    values = list(BENIGN) + hostile
    dag, params, expected = _interpreter_dag(tmp_path, language, form, values)
    result, err = _run_interpreter_dag(tmp_path, home, dag, params)
    markers = sorted(p.name for p in tmp_path.glob("marker-*"))
    assert markers == [], "value ran as code: %s\n%s" % (markers, err[-3000:])
    benign = {"%s-%d" % (kind, i) for kind in REFERENCES for i in range(1, len(BENIGN) + 1)}
    refused = 0
    for step in result.steps:
        name = step.step.name
        if name not in expected:
            continue
        if name in benign or step.status == model.SUCCEEDED:
            assert step.status == model.SUCCEEDED, (name, step.reason)
            assert _printed(step) == expected[name], name
            continue
        refused += 1
        assert step.status == model.FAILED, (name, step.status)
        assert "\n" not in step.reason and "from the environment" in step.reason, step.reason
        assert _printed(step) == "", (name, "the script ran")
    assert refused == (len(hostile) * len(REFERENCES) if language == "perl" else 0)


def test_interpreter_script_contexts(tmp_path, home):
    """Outside a string literal only a number is written; ``'${VAR}'`` stays as written
    (Dagu leaves a reference between single quotes alone); the environment carries
    every value whole."""
    (tmp_path / "dag.yaml").write_text("""\
params:
  - N: "41"
  - W: __import__("os").system("touch {m}")
  - WORD: os
steps:
  - name: number
    command: python3
    script: |
      print(${{N}} + 1)
  - name: code
    command: python3
    continueOn: {{failure: true}}
    script: |
      print(${{W}})
  - name: word
    command: python3
    continueOn: {{failure: true}}
    script: |
      print(${{WORD}})
  - name: quoted-alone
    command: python3
    script: |
      print('${{N}}')
  - name: environment
    command: python3
    script: |
      import os
      print(os.environ["W"])
""".format(m=tmp_path / "marker"))
    dag = load.load(str(tmp_path / "dag.yaml"))
    result, err = _run_interpreter_dag(tmp_path, home, dag, [])
    assert not (tmp_path / "marker").exists(), err
    by_name = {s.step.name: s for s in result.steps}
    assert by_name["number"].status == model.SUCCEEDED, by_name["number"].reason
    assert _printed(by_name["number"]) == "42\n"
    for name in ("code", "word"):
        step = by_name[name]
        assert step.status == model.FAILED, name
        assert "outside a string" in step.reason and "${%s}" % (
            "W" if name == "code" else "WORD") in step.reason, step.reason
    assert _printed(by_name["quoted-alone"]) == "${N}\n"
    assert _printed(by_name["environment"]) == '__import__("os").system("touch %s")\n' % (
        tmp_path / "marker")
