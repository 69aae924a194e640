"""shellwords.split is shlex.split, with shlex imported only for quoted or unusual text."""
from __future__ import annotations

import shlex

import pytest

from traceexec.dag import shellwords

TEXTS = ["", " ", "/bin/bash", "/bin/bash -e", "  a   b  ", "a#b # c", "a=1 $B ${C} *",
         "a\tb", "a\nb", "a\rb", "a\x0bb", "a\x0cb", "a\xa0b", "a\u2003b", "é ü",
         "'a b'", '"a b" c', "a\\ b", "a\\", "don't"]


@pytest.mark.parametrize("text", TEXTS)
def test_same_words_as_shlex(text):
    try:
        expected = shlex.split(text)
    except ValueError:
        with pytest.raises(ValueError):
            shellwords.split(text)
        return
    assert shellwords.split(text) == expected
