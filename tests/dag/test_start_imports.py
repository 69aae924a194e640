"""A warm 1-step run imports neither json nor re (issue 26), nor signal (it imports enum):
they and what they import were a fifth of its instructions."""
from __future__ import annotations

import os
import subprocess
import sys

import yaml

from conftest import ROOT, traceexec_env

SCRIPT = os.path.join(ROOT, "bin", "traceexec")
SITE = os.path.dirname(os.path.dirname(os.path.abspath(yaml.__file__)))


def _imports(args, env) -> set:
    # -S: without site, so the editable install's finder (it imports re) stays out;
    # PyYAML for the cold run from its folder on PYTHONPATH
    result = subprocess.run([sys.executable, "-S", "-X", "importtime"] + args,
                            capture_output=True, env=env)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_a_warm_one_step_run_imports_neither_json_nor_re_nor_signal(tmp_path, home):
    env = traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PYTHONPATH"] = SITE
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nsteps:\n  - name: a\n    command: /bin/true\n")
    command = [SCRIPT, "run", "--quiet", str(path)]
    _imports(command, env)  # the cold run primes the cache
    warm = _imports(command, env) - _imports(["-c", "pass"], env)
    assert not {m for m in warm if m.split(".")[0] in ("json", "re", "signal", "enum")}, \
        sorted(warm)
    # threading and functools (with _weakrefset) served only a lock, a partial,
    # an lru_cache and a main-thread check: 7.4 M instructions of a 105 M run;
    # collections (with keyword, operator, reprlib) only ChainMap: 8 M; graphlib (with
    # types) only a check for cycles: 2.6 M
    assert not warm & {"threading", "functools", "_weakrefset", "collections", "keyword",
                       "operator", "reprlib", "graphlib", "types", "heapq"}, sorted(warm)
    # what a plain command line to the local store never uses: values pasted into a
    # script no shell runs, the spool of an OTLP endpoint (with its codec and health)
    # importlib's Python parts and warnings (the subcommand's import): 2 M; zlib (a name
    # for the parse cache's entry): 0.5 M
    assert not warm & {"importlib", "warnings", "zlib"}, sorted(warm)
    assert not warm & {"traceexec.dag.pasting", "traceexec.delivery.spool",
                       "traceexec.delivery.otlp", "traceexec.delivery.frames",
                       "traceexec.delivery.health"}, sorted(warm)
    # what a run with no OTEL_* variable and a plain command never uses either: the export
    # settings in full, the carriers' parsers, the redactor, the wrapper's command and options
    assert not warm & {"traceexec.delivery.settings", "traceexec.wrap.carriers",
                       "traceexec.wrap.redact", "traceexec.wrap.command",
                       "traceexec.wrap.options"}, sorted(warm)
    records = list((home / "runs" / "one").iterdir())
    assert len(records) == 2 and all((r / "status.json").exists() for r in records)


def test_a_warm_fan_out_past_its_span_template_loads_no_wrapper_module(tmp_path, home):
    """Past ``telemetry.TEMPLATE_AFTER`` steps the span texts come from ``dag.steptext``,
    which needs the span data of ``wrap.supervise``, not the wrapper's modules."""
    env = traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PYTHONPATH"] = SITE
    path = tmp_path / "fan.yaml"
    path.write_text("name: fan\ntype: graph\nsteps:\n" + "".join(
        "  - name: s%d\n    command: /bin/true\n" % i for i in range(12)))
    command = [SCRIPT, "run", "--quiet", str(path)]
    _imports(command, env)  # the cold run primes the cache
    warm = _imports(command, env)
    assert "traceexec.dag.steptext" in warm, sorted(warm)
    assert not warm & {"traceexec.wrap.redact", "traceexec.wrap.command",
                       "traceexec.wrap.options", "json", "re"}, sorted(warm)


def test_a_warm_run_writes_its_spans_as_json_writes_them(tmp_path, home):
    """Without json loaded the span records keep json's text (ASCII, NaN as a word)."""
    import json
    env = traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PYTHONPATH"] = SITE
    path = tmp_path / "wide.yaml"
    path.write_text("name: wide\nsteps:\n  - name: é\n    command: /bin/echo héllo 😀\n",
                    encoding="utf-8")
    command = [SCRIPT, "run", "--quiet", str(path)]
    _imports(command, env)
    assert "json" not in _imports(command, env)
    with open(home / "store" / "incoming.jsonl", "rb") as handle:
        lines = handle.read().decode("ascii").splitlines()
    assert len(lines) >= 2 and any("\\u00e9" in line for line in lines)
    for line in lines:
        assert line == json.dumps(json.loads(line), separators=(",", ":"))
