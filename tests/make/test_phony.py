"""traceexec/make/phony.py: the words of a makefile's .PHONY rules, read as text."""
import pytest

from traceexec.make import phony


@pytest.mark.parametrize("text, words", [
    (".PHONY: all clean\n", ["all", "clean"]),
    (".PHONY : all\n.PHONY : CMakeFiles/onig.dir/all\n", ["all", "CMakeFiles/onig.dir/all"]),
    (".PHONY: all \\\n\tinstall \\\n  check # not: this\n", ["all", "install", "check"]),
    (".PHONY:: a ; @echo recipe\n", ["a"]),
    (".PHONY: all $(PLATS) ${MORE} $(addprefix x-,$(D)) a$(B)\n", ["all", "$PLATS", "$MORE"]),
    ("all:\n\t.PHONY: not-a-rule\n", []),                  # a recipe line
    ("define X\n.PHONY: inside\nendef\n.PHONY: after\n", ["after"]),
    (".PHONY := a variable\n.PHONY ::= another\nX = .PHONY: no\n", []),
    ("# .PHONY: commented\n.PHONY: x\\#y\n", ["x\\#y"]),
])
def test_declared_reads_phony_rules(text, words):
    assert phony.declared(text) == words


def test_names_of_several_makefiles_once_each(tmp_path):
    (tmp_path / "a.mk").write_text(".PHONY: all clean\n")
    (tmp_path / "b.mk").write_text(".PHONY: clean $(SUBDIRS)\n")
    paths = [str(tmp_path / "a.mk"), str(tmp_path / "missing.mk"), str(tmp_path / "b.mk")]
    assert phony.names(paths) == ["all", "clean", "$SUBDIRS"]
