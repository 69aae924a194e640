"""traceexec/make/recipe.py: a recipe line's options, .ONESHELL scripts, the
command-line form's refusal, and launchers registered for a Makefile's SHELL."""
import os

import pytest

from traceexec.errors import UsageError
from traceexec.make import names, recipe, setup


@pytest.mark.parametrize("script, expected", [
    ("@echo one\n-echo two\n @+echo three\n", "echo one\necho two\necho three\n"),
    ("x=4; \\\n-echo $x\n", "x=4; \\\n-echo $x\n"),        # a continued line keeps its '-'
    ("echo a\\\\\n-echo b\n", "echo a\\\\\necho b\n"),      # an escaped backslash ends the line
    ("\t\techo tabbed", "echo tabbed"),
])
def test_oneshell_script_strips_prefixes_as_make_does_for_posix_shells(script, expected):
    assert recipe.oneshell_script(script) == expected


@pytest.mark.parametrize("makeflags, shell", [
    (" -- SHELL=traceexec", "traceexec"),
    ("-- SHELL=traceexec", "traceexec"),
    ("k -j2 -- X=1 SHELL=/bin/bash", "/bin/bash"),
    ("k -j2", None),
    (" -- NOTSHELL=1", None),
])
def test_command_line_shell_read_from_makeflags(makeflags, shell):
    assert recipe.command_line_shell({"MAKEFLAGS": makeflags}) == shell


def test_register_makes_one_launcher_per_shell(tmp_path):
    environ = {setup.DIRECTORY: str(tmp_path)}
    first = recipe.register(["-eu", "-o", "pipefail", "-c", "/usr/bin/env bash"], environ)
    again = recipe.register(["-c", "/usr/bin/env  bash"], environ)
    other = recipe.register(["-c", "'/opt/my shell/zsh' -f"], environ)
    assert first == again != other
    assert recipe.is_launcher(first) and not recipe.is_register(first)
    assert recipe.shell_words(first) == ["/usr/bin/env", "bash"]
    assert recipe.shell_words(other) == ["/opt/my shell/zsh", "-f"]
    assert os.readlink(first) == setup.SELF


def test_register_answers_the_launcher_then_the_phony_words(tmp_path):
    (tmp_path / "Makefile").write_text("SHELL := bash\n.PHONY: all $(PLATS)\n")
    environ = {setup.DIRECTORY: str(tmp_path)}
    answer = recipe.register(["-c", "bash traceexec:makefiles %s %s" % (
        setup.FRAGMENT, tmp_path / "Makefile")], environ).split(" ")
    assert answer[1:] == ["all", "$PLATS"]
    assert recipe.shell_words(answer[0]) == ["bash"]
    # the Makefile sets no SHELL: make's own, /bin/sh
    [default] = recipe.register(["-c", "traceexec:makefiles"], environ).split(" ")
    assert recipe.shell_words(default) == ["/bin/sh"]


def test_register_outside_a_make_run_is_refused(tmp_path):
    with pytest.raises(UsageError):
        recipe.register(["-c", "bash"], {})


def test_recipe_line_options_run_the_makefiles_shell_with_its_flags(tmp_path):
    launcher = setup.launcher(str(tmp_path), ["/bin/bash"])
    environ = {names.TARGET: "out/app.o", "MAKELEVEL": "2"}
    opts = recipe.options(launcher, ["-eu", "-o", "pipefail", "-c", "cc -c app.c"], environ)
    assert opts.argv == ["/bin/bash", "-eu", "-o", "pipefail", "-c", "cc -c app.c"]
    assert opts.name == "cc"  # the line's span; the target's span is named out/app.o
    assert opts.attributes == {"make.target": "out/app.o", "make.level": 1}


def test_shell_function_options_have_no_target(tmp_path):
    launcher = setup.launcher(str(tmp_path), ["sh"])
    opts = recipe.options(launcher, ["-c", "@echo a\n-echo b"], {"MAKELEVEL": "1"})
    assert opts.name == "echo" and opts.attributes == {"make.target": "", "make.level": 1}
    assert opts.argv == ["sh", "-c", "echo a\necho b"]  # .ONESHELL under a POSIX shell


def test_launcher_without_its_words_is_a_usage_error(tmp_path):
    (tmp_path / "traceexec-shell-x.words").write_bytes(b"no terminating NUL")
    with pytest.raises(UsageError):
        recipe.shell_words(str(tmp_path / "traceexec-shell-x"))
    with pytest.raises(UsageError):
        recipe.shell_words(str(tmp_path / "traceexec-shell-missing"))


@pytest.mark.parametrize("line, name", [
    ("cc -c app.c", "cc"),
    ("LC_ALL=C sort x", "sort"),
    ("/tmp/run/traceexec-shell-0123 ./libtool --mode=compile cc", "libtool"),
    ("(cd sub && make)", "cd"),
    ("", ""),
])
def test_line_name_is_the_command(line, name):
    assert recipe.line_name(line) == name


def test_notes_round_trip_and_a_torn_line_is_left_out(tmp_path):
    from traceexec.make import targets
    path = str(tmp_path / "notes")
    fields = {"id": "00f067aa0ba902b7", "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
              "parent": "b7ad6b7169203331", "flags": 1, "pid": 42, "target": "a b.o",
              "level": 1, "missing": True, "forced": False, "phony": True, "newer": ["x.c", "y.h"],
              "prereqs": [], "start": 10, "end": 20, "status": 2}
    targets.note(path, fields)
    with open(path, "a") as handle:
        handle.write("torn\0line")
    assert targets.read_notes(path) == [fields]


def test_the_line_path_imports_no_json_nor_re():
    import subprocess
    import sys
    code = ("import sys; import traceexec.make.recipe, traceexec.make.targets; "
            "print(sorted({'json', 're', 'hashlib', 'tempfile'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__))))}, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("makeflags, forced", [
    ("B", True), ("kB -j2", True), ("k -j2 -- B=1", False), (" -j2 --always-makeB", False),
    ("", False), ("-- SHELL=B", False),
])
def test_forced_is_make_B_among_the_single_letter_flags(makeflags, forced):
    assert recipe.is_forced({"MAKEFLAGS": makeflags}) is forced
