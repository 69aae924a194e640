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
