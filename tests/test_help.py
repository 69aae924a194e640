"""Help texts against their one source of truth: the subcommand table, the spool's default,
and what the binary really does."""
from __future__ import annotations

import json
import os
import re

from traceexec import cli
from traceexec.delivery import spool
from traceexec.wrap import help as wrap_help
from traceexec.wrap import options

from conftest import ROOT, run_traceexec

PUBLIC = cli.public_subcommands()


def test_the_usage_lines_name_every_subcommand(env):
    text = run_traceexec(["--help"], env).stdout.decode()
    usage = text.split("\n\n", 1)[0]
    named = set(re.findall(r"[a-z]+", " ".join(line.split("traceexec", 1)[1]
                                              for line in usage.splitlines())))
    assert set(PUBLIC) <= named, sorted(set(PUBLIC) - named)
    assert text == wrap_help.HELP


def test_every_option_the_wrapper_takes_is_in_its_help_and_in_docs_wrap_md():
    with open(os.path.join(ROOT, "docs", "wrap.md"), encoding="utf-8") as handle:
        page = handle.read()
    taken = options._VALUED | options._FLAGS
    assert not [o for o in taken if not re.search(r"(^|[\s,])%s[\s,=\[]" % o, wrap_help.HELP,
                                                  re.M)]
    assert not [o for o in taken if "`%s" % o not in page]


def test_help_of_an_unknown_subcommand_lists_every_one(env):
    wrong = run_traceexec(["help", "nosuch"], env)
    message = wrong.stderr.decode()
    assert wrong.returncode == 2 and message.count("\n") == 1, message
    listed = message.rsplit("(", 1)[1].rstrip(")\n").split(", ")
    assert listed == PUBLIC + ["make"]
    for name in listed:
        assert run_traceexec(["help", name], env).returncode == 0, name


def test_every_subcommand_has_examples_and_its_exit_statuses(env):
    for name in PUBLIC:
        text = run_traceexec(["help", name], env).stdout.decode()
        assert "usage: traceexec %s" % name in text, name
        assert "examples:" in text and "exit status: 0 " in text, name


def test_the_spool_limit_is_spans_with_the_spools_default(env):
    default = "{:,}".format(spool.DEFAULT_LIMIT_SPANS)
    texts = [run_traceexec(["--help"], env).stdout.decode(),
             run_traceexec(["help", "flush"], env).stdout.decode()]
    for text in texts:
        line = next(line for line in text.splitlines() if "TRACEEXEC_SPOOL_LIMIT" in line)
        assert "spans" in line and "(default %s)" % default in line, line
        assert "bytes" not in line and "MB" not in line, line


def test_help_run_gives_the_exit_status_of_a_dag_timeout(env, tmp_path):
    dag = tmp_path / "slow.yaml"
    dag.write_text("name: slow\ntimeoutSec: 1\nsteps:\n  - name: wait\n    command: sleep 30\n")
    result = run_traceexec(["run", "--json", str(dag)], env)
    assert json.loads(result.stdout)["result"] == "timeout", result.stdout
    text = run_traceexec(["help", "run"], env).stdout.decode()
    statuses = text.split("exit status: ", 1)[1].split("\n", 1)[0]
    said = [clause for clause in statuses.split("; ") if "timeoutSec" in clause]
    assert len(said) == 1 and said[0].split()[0] == str(result.returncode), (statuses,
                                                                            result.returncode)
