"""lines.author: which commands turn the author's xtrace on or off."""
from __future__ import annotations

import pytest

from traceexec.lines import author


@pytest.mark.parametrize("text,change", [
    ("set -x", True), ("set -eux", True), ("set -o xtrace", True), ("set +x", False),
    ("set +o xtrace", False), ("set -e", None), ("set -- -x", None), ("echo set -x", None),
    ("set -o pipefail", None), ("", None),
])
def test_xtrace_change(text, change):
    assert author.xtrace_change(text) is change


def test_echo_line_is_bash_default_ps4():
    assert author.echo_line(1, "echo a") == b"+ echo a\n"
    assert author.echo_line(2, "date") == b"++ date\n"
