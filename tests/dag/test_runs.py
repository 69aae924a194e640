"""Run folders' names: safe_name keeps a name of safe characters as it is."""
from __future__ import annotations

import re

import pytest

from traceexec.dag.runs import safe_name

NAMES = ["a", "build_1", "-x", "_", "a.b", "a.", ".a", "..", ".", "", "a b", "a/b", "é",
         "a\n", "A-Z.09_", "x" * 300, "a\u0660", "Ａ"]


def pattern_safe_name(name):
    """safe_name as it was, with a regular expression."""
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name) and not name.endswith("."):
        return name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".") or "_"


@pytest.mark.parametrize("name", NAMES)
def test_same_name_as_the_pattern_gave(name):
    assert safe_name(name) == pattern_safe_name(name)
