"""dag.commands: the default shell ($SHELL's words, the last WORDS_KEPT texts' kept), runners
that are languages, and plain command lines (their words kept by their text)."""
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
    # the first layer holding a name decides it, even empty: an empty one is no shell
    assert commands.default_shell(Layers({"SHELL": ""}, {"SHELL": "zsh"})) == ["sh"]
    assert commands.default_shell(Layers({"DAGU_DEFAULT_SHELL": ""}, {"SHELL": "ksh"},
                                         {"DAGU_DEFAULT_SHELL": "zsh"})) == ["ksh"]


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


def test_a_plain_line_builds_as_the_general_path_builds_it():
    """build's shortcut for a one-line step (the line's words, kept by its text) gives
    what the loop over a step's lines gives for the same line."""
    from hypothesis import given, settings, strategies as st
    from traceexec.dag import model
    piece = st.sampled_from(list(" \tab/.-=$`'\"{}|;#\\x1") + ["echo", "true", "${A}", "$A"])
    line = st.lists(piece, max_size=12).map("".join) | st.sampled_from(
        ["/bin/true", "make -j2 all", "echo hi", "a=b c", "x ${A:0:1}", " ls  -l "])
    values = {"A": "value", "SHELL": "/bin/sh"}

    @settings(max_examples=300, deadline=None)
    @given(line, st.sampled_from([model.V1, model.V2]))
    def check(text, schema):
        dag = model.Dag(name="d", path="/d.yaml", schema=schema)
        one = commands.build(model.Step(name="s", command=text), dag, values, {})
        two = commands.build(model.Step(name="s", commands=[text, "x"]), dag, values, {})
        assert one.argvs == two.argvs[:1]
        assert one.env == {k: v for k, v in two.env.items() if "_0_" in k}
        assert commands.plain_words(text) == (
            tuple(text.split()) if commands.is_plain(text) else None)

    check()
    assert len(commands._PLAIN) <= commands.PLAIN_KEPT


def test_plain_words_are_kept_within_their_bound():
    commands._PLAIN.clear()
    lines = ["/bin/true %d" % i for i in range(commands.PLAIN_KEPT + 10)]
    for text in lines + lines[-3:]:
        got = commands.plain_words(text)
        assert got == tuple(text.split())
    assert len(commands._PLAIN) == commands.PLAIN_KEPT
    assert list(commands._PLAIN)[-3:] == lines[-3:]
    assert commands.plain_words("echo $A") is None
