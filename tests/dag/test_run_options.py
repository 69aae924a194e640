"""`traceexec run`'s options: a plain command line is read without argparse, to the same result."""
from __future__ import annotations

import pytest

from traceexec.dag import cli
from traceexec.errors import UsageError

PLAIN = [["d.yaml"], ["--quiet", "d.yaml"], ["d.yaml", "-q", "--json"],
         ["-p", "A=1 B", "d.yaml", "--base", "b.yaml"], ["d.yaml", "--params", ""],
         ["--run-id", "r1", "-r", "r2", "d.yaml", "--dry-run"], ["d.yaml", "-q", "-q"]]
OTHER = [[], ["-h"], ["--help"], ["--qu", "d.yaml"], ["-qp", "A=1", "d.yaml"],
         ["--params=A=1", "d.yaml"], ["d.yaml", "e.yaml"], ["d.yaml", "--params"],
         ["d.yaml", "-p", "-x"], ["-", "d.yaml"], ["--nope", "d.yaml"], ["-1"]]


@pytest.mark.parametrize("dry", [False, True])
@pytest.mark.parametrize("args", PLAIN)
def test_a_plain_command_line_reads_as_argparse_reads_it(args, dry):
    try:
        expected = vars(cli._run_parser("run", dry).parse_args(args))
    except UsageError:  # --dry-run, -q... are not options of `traceexec dry`
        assert cli._plain_run_options(args, dry) is None
        return
    got = cli._plain_run_options(args, dry)
    assert got is not None and {name: getattr(got, name) for name in expected} == expected


@pytest.mark.parametrize("dry", [False, True])
@pytest.mark.parametrize("args", OTHER)
def test_anything_else_is_left_to_argparse(args, dry):
    assert cli._plain_run_options(args, dry) is None
