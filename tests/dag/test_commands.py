"""dag.commands.default_shell: $SHELL's words, the last WORDS_KEPT texts' kept."""
from traceexec.dag import commands
from traceexec.dag.layers import Layers


def test_the_default_shell_is_split_once_per_text_and_kept_within_its_bound():
    commands._WORDS.clear()
    shells = ["/bin/sh -%d" % i for i in range(commands.WORDS_KEPT + 10)]
    for shell in shells + shells[-3:]:
        got = commands.default_shell({"SHELL": shell})
        assert got == shell.split() and got is not commands.default_shell({"SHELL": shell})
    assert len(commands._WORDS) == commands.WORDS_KEPT
    assert list(commands._WORDS)[-3:] == shells[-3:]  # the most recently used last
    assert shells[0] not in commands._WORDS


def test_the_default_shell_is_looked_up_layer_by_layer():
    assert commands.default_shell(Layers({}, {"SHELL": "bash -e"})) == ["bash", "-e"]
    assert commands.default_shell(Layers({"DAGU_DEFAULT_SHELL": "zsh"}, {"SHELL": "x"})) \
        == ["zsh"]
    assert commands.default_shell({"SHELL": "'unclosed"}) == ["sh"]
    assert commands.default_shell({}) == ["sh"]


def _language_as_written(runner) -> bool:
    """is_language's rule, each time afresh (what the kept answers must equal)."""
    import os
    words = list(runner)
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return bool(words) and os.path.basename(words[0]) not in commands.KNOWN_SHELLS


def test_is_language_keeps_its_answers_and_they_are_the_rules():
    from hypothesis import given, settings, strategies as st
    word = st.sampled_from(["sh", "/bin/bash", "python3", "/usr/bin/env", "env", "-S", "-i",
                            "node", "fish", "busybox", "", "/", "a/", "-e"]) | st.text(max_size=6)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(word, max_size=4))
    def check(runner):
        first = commands.is_language(runner)
        assert first == commands.is_language(list(runner)) == _language_as_written(runner)
        assert commands.is_language(tuple(runner)) == first

    check()
    assert len(commands._LANGUAGE) <= commands.WORDS_KEPT
