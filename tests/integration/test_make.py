"""GNU make with SHELL = traceexec: one trace per build, one span per recipe line.

Runs the real make on examples/make (copied to a temporary directory) and on
a Makefile that knows nothing of traceexec, then reads the local store.
"""
from __future__ import annotations

import collections
import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN_DIR, ROOT, TRACEEXEC, traceexec_env
from traceexec.store import local as store

EXAMPLE = os.path.join(ROOT, "examples", "make")
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def traced_build(home, directory, *make_args):
    """``traceexec --name build -- make ARGS`` in ``directory``; returns (result, spans)."""
    env = traceexec_env(home)
    assert shutil.which("traceexec", path=env["PATH"]), "traceexec console script not on PATH"
    result = subprocess.run(TRACEEXEC + ["--name", "build", "--", MAKE] + list(make_args),
                            cwd=directory, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    trace_ids = store.trace_ids(str(home))
    assert len(trace_ids) == 1, "every recipe line must join the build's trace"
    return result, store.read(str(home), trace_ids[0])


def by_name(spans):
    found = collections.defaultdict(list)
    for span in spans:
        found[span["name"]].append(span)
    return found


def recipe_line(span):
    """The shell string a recipe-line span ran (``-c STRING``)."""
    return span["attributes"]["process.command_args"][-1]


def test_example_makefile_is_one_trace_with_a_span_per_recipe_line(tmp_path, home):
    work = tmp_path / "make"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("out"))
    result, spans = traced_build(home, work, "-j4")
    assert "jobserver unavailable" not in result.stderr  # fds reach the sub-make through traceexec

    assert re.search(r"plugins on \d{4}-\d\d-\d\d\n", result.stdout), result.stdout

    names = by_name(spans)
    # recipe lines per target (the objects, docs and plugins have two or three),
    # and `date` for the $(shell date ...) make ran while reading the Makefile
    assert {name: len(group) for name, group in names.items()} == {
        "build": 1, "date": 1, "out": 1, "out/parse.o": 2, "out/render.o": 2,
        "out/store.o": 2, "docs": 2, "out/app": 1, "all": 1, "plugins": 1,
        "out/gzip.so": 3, "out/zstd.so": 3}
    [build] = names["build"]
    [plugins] = names["plugins"]
    assert build["parent_span_id"] == ""
    assert names["date"][0]["attributes"]["make.target"] == ""
    for span in spans:
        if span is build:
            continue
        if span["name"] != "date":
            assert span["attributes"]["make.target"] == span["name"]
        sub_make = span["name"].endswith(".so")
        assert span["parent_span_id"] == (plugins if sub_make else build)["span_id"], span["name"]
        where = span["attributes"]["process.working_directory"]
        assert os.path.basename(where) == ("plugins" if sub_make else "make")


def test_make_j4_runs_recipe_lines_side_by_side(tmp_path, home):
    work = tmp_path / "make"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("out"))
    _, spans = traced_build(home, work, "-j4")
    sleeps = sorted((s for s in spans if recipe_line(s).startswith("sleep")),
                    key=lambda s: s["start_ns"])
    overlapping = [(a["name"], b["name"]) for a, b in zip(sleeps, sleeps[1:])
                   if b["start_ns"] < a["end_ns"]]
    assert overlapping, "with -j4 some recipe lines run at the same time"


LEGACY_MAKEFILE = """\
GREETING := $(shell echo hello)
all: hello lib
hello:
\techo $(GREETING) > hello.txt
lib:
\t$(MAKE) -C lib
.PHONY: all hello lib
"""
LEGACY_SUB_MAKEFILE = """\
all:
\techo one > one.txt
\techo two > two.txt
"""


def test_existing_makefile_traced_from_the_command_line(tmp_path, home):
    (tmp_path / "lib").mkdir()
    (tmp_path / "Makefile").write_text(LEGACY_MAKEFILE)
    (tmp_path / "lib" / "Makefile").write_text(LEGACY_SUB_MAKEFILE)
    # Command-line variables reach sub-makes through MAKEFLAGS: lib's lines are traced too.
    _, spans = traced_build(home, tmp_path, "-j4", "SHELL=traceexec", ".SHELLFLAGS=--name=$@ -c")
    names = by_name(spans)
    assert sorted(names) == ["all", "build", "echo", "hello", "lib"]  # echo: the $(shell ...)
    [build], [lib] = names["build"], names["lib"]
    assert {names[n][0]["parent_span_id"] for n in ("echo", "hello", "lib")} == {build["span_id"]}
    assert [s["parent_span_id"] for s in names["all"]] == [lib["span_id"]] * 2
    assert (tmp_path / "hello.txt").read_text() == "hello\n"
    assert (tmp_path / "lib" / "two.txt").read_text() == "two\n"


# --- a Makefile with its own shell: the same outcome traced as untraced --------------------

BASH_MAKEFILE = """\
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
all: upper pipe
upper:
\t@X=shout; echo "${X^^}"
pipe:
\tfalse | cat
\techo not reached
.PHONY: all upper pipe
"""
EDITED = {
    "SHELL := bash\n": "SHELL := traceexec\n",
    ".SHELLFLAGS := -eu -o pipefail -c\n":
        ".SHELLFLAGS = --name=$@ --attr=make.target=$@ --shell=bash -eu -o pipefail -c\n",
}
FALLBACK = """\
TRACEEXEC := $(shell command -v traceexec 2>/dev/null)
SHELL := $(if $(TRACEEXEC),$(TRACEEXEC),bash)
.SHELLFLAGS = $(if $(TRACEEXEC),--name=$@ --shell=bash) -eu -o pipefail -c
"""
ONESHELL_MAKEFILE = """\
SHELL := bash
.SHELLFLAGS := -e -c
.ONESHELL:
all:
\t@echo one
\t-echo two
\t @+echo three
\tx=4; \\
\t-echo "continued $$x" ;\\
\techo done
\tfalse
\techo not reached
"""


def make(directory, env, *args):
    """Real make in ``directory``; (status, stdout, stderr without make's directory lines)."""
    result = subprocess.run([MAKE, "--no-print-directory"] + list(args), cwd=directory,
                            env=env, capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


def edited(text, changes):
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


def recipe_spans(home):
    return [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)
            if "make.target" in s["attributes"]]


@pytest.mark.parametrize("makefile", [BASH_MAKEFILE, ONESHELL_MAKEFILE],
                         ids=["bash-pipefail", "oneshell"])
def test_edited_makefile_keeps_its_shell_and_flags(tmp_path, home, makefile):
    bare_dir, traced_dir = tmp_path / "bare", tmp_path / "traced"
    bare_dir.mkdir()
    traced_dir.mkdir()
    (bare_dir / "Makefile").write_text(makefile)
    changes = dict(EDITED) if "pipefail" in makefile else {
        "SHELL := bash\n": "SHELL := traceexec\n",
        ".SHELLFLAGS := -e -c\n": ".SHELLFLAGS = --name=$@ --attr=make.target=$@ --shell=bash -e -c\n"}
    (traced_dir / "Makefile").write_text(edited(makefile, changes))
    env = traceexec_env(home)
    bare = make(bare_dir, env, "-k")
    assert bare[0] == 2
    assert make(traced_dir, env, "-k") == bare
    assert recipe_spans(home), "each recipe line is a span"


def test_unedited_makefile_that_sets_only_shellflags_is_traced_with_them(tmp_path, home):
    makefile = ".SHELLFLAGS := -e -c\nall:\n\t@false; echo not reached\n\techo second\n"
    (tmp_path / "Makefile").write_text(makefile)
    env = traceexec_env(home)
    bare = make(tmp_path, env)
    assert bare[0] == 2 and "not reached" not in bare[1]
    result = subprocess.run(TRACEEXEC + ["--make", "--", MAKE, "--no-print-directory"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == bare
    [span] = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)
              if s["name"] == "false"]  # the first line, which failed
    assert span["attributes"]["process.command_args"][:3] == ["/bin/sh", "-e", "-c"]


def test_unedited_makefile_traced_with_make_option(tmp_path, home):
    (tmp_path / "lib").mkdir()
    (tmp_path / "Makefile").write_text(LEGACY_MAKEFILE)
    (tmp_path / "lib" / "Makefile").write_text(LEGACY_SUB_MAKEFILE)
    env = traceexec_env(home)
    result = subprocess.run(TRACEEXEC + ["--make", "--name", "build", "--", MAKE, "-j4"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [trace_id] = store.trace_ids(str(home))
    spans = store.read(str(home), trace_id)
    targets = {s["name"]: s for s in target_spans(spans)}
    assert sorted(targets) == ["all", "hello", "lib"]
    [recursive] = lines_of(spans, targets["lib"])
    assert recursive["name"] == "make"
    assert targets["all"]["parent_span_id"] == recursive["span_id"]  # the sub-make's target
    assert [s["name"] for s in lines_of(spans, targets["all"])] == ["echo", "echo"]
    assert "traceexec:" not in result.stderr


@pytest.mark.parametrize("installed", [True, False])
def test_fallback_pattern_runs_with_or_without_traceexec(tmp_path, home, installed):
    (tmp_path / "Makefile").write_text(FALLBACK + BASH_MAKEFILE.split("\n", 2)[2])
    env = traceexec_env(home)
    if not installed:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if not os.path.exists(os.path.join(p, "traceexec")))
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "Makefile").write_text("\n" + BASH_MAKEFILE)  # the same line numbers
    assert make(tmp_path, env, "-k") == make(reference, env, "-k")
    names = {s["name"] for t in store.trace_ids(str(home)) for s in store.read(str(home), t)}
    assert names == ({"upper", "pipe"} if installed else set())


# --- every Makefile as it is: bare and under --make, the same outcome ---------------------

def tree_sums(directory):
    """Checksums of every file under ``directory`` (what a build made, and its sources)."""
    sums = {}
    for top, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(top, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as handle:
                sums[os.path.relpath(path, directory)] = hashlib.sha256(handle.read()).hexdigest()
    return sums


def write_tree(directory, files):
    shutil.rmtree(directory, ignore_errors=True)
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def bare_and_traced(tmp_path, home, files, make_args=(), traced=None, env=None):
    """The same tree at the same path, built bare then under ``traceexec --make``.

    Returns ((status, stdout, stderr, sums) bare, the same traced, the spans)."""
    work = tmp_path / "work"
    env = env or traceexec_env(home)
    command = [MAKE, "--no-print-directory"] + list(make_args)
    outcomes = []
    for prefix in ([], traced or TRACEEXEC + ["--make", "--name", "build", "--"]):
        write_tree(work, files)
        result = subprocess.run(prefix + command, cwd=work, env=env, capture_output=True,
                                text=True, timeout=60)
        outcomes.append((result.returncode, result.stdout, result.stderr, tree_sums(work)))
    spans = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)]
    return outcomes[0], outcomes[1], spans


def recipe_lines(spans):
    """The recipe lines' spans (and $(shell ...)'s): each ran a command."""
    return [s for s in spans if "make.target" in s["attributes"]
            and "process.command_args" in s["attributes"]]


def target_spans(spans):
    return [s for s in spans if "make.reason" in s["attributes"]]


def lines_of(spans, target):
    return sorted((s for s in recipe_lines(spans) if s["parent_span_id"] == target["span_id"]),
                  key=lambda s: s["start_ns"])


PIPEFAIL = {"Makefile": """\
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
all: first pipe
first:
\t@X=shout; echo "${X^^}" > first.txt
pipe:
\tfalse | cat
\techo not reached > pipe.txt
.PHONY: all first pipe
"""}


def test_own_bash_with_pipefail_fails_traced_as_bare(tmp_path, home):
    bare, traced, spans = bare_and_traced(tmp_path, home, PIPEFAIL, ["-k"])
    assert bare[0] == 2 and "pipe.txt" not in bare[3]
    assert traced == bare
    targets = {s["name"]: s for s in target_spans(spans)}
    assert sorted(targets) == ["first", "pipe"]
    [pipe] = lines_of(spans, targets["pipe"])
    assert pipe["name"] == "false" and targets["pipe"]["status_code"] == 2
    assert pipe["attributes"]["process.command_args"] == [
        "bash", "-eu", "-o", "pipefail", "-c", "false | cat"]
    assert pipe["attributes"]["process.exit.code"] == 1


def test_shell_set_by_path_with_one_recipe(tmp_path, home):
    files = {"Makefile": "SHELL = /bin/bash\nout.txt:\n\techo $${BASH_VERSION:+bash} > $@\n"}
    bare, traced, spans = bare_and_traced(tmp_path, home, files)
    assert bare[0] == 0 and traced == bare
    [line] = recipe_lines(spans)
    [target] = target_spans(spans)
    assert target["name"] == "out.txt" and line["parent_span_id"] == target["span_id"]
    assert target["attributes"]["make.reason"] == "target missing"
    assert line["attributes"]["process.command_args"][:2] == ["/bin/bash", "-c"]


TARGET_SHELLS = {"Makefile": """\
.SHELLFLAGS := -e -c
all: plain.txt own.txt lib.o
plain.txt:
\techo $$0 > $@
own.txt: SHELL := /bin/bash
own.txt:
\techo $${BASH_VERSION:+bash} > $@
%.o: SHELL = /bin/bash
%.o:
\techo $${BASH_VERSION:+bash} > $@
.PHONY: all
"""}


def test_target_and_pattern_specific_shells_keep_their_outcome(tmp_path, home):
    bare, traced, spans = bare_and_traced(tmp_path, home, TARGET_SHELLS)
    assert bare[0] == 0
    notices = [line for line in traced[2].splitlines() if "traceexec:" in line]
    assert len(notices) == 1 and "'own.txt' runs untraced" in notices[0], traced[2]
    rest = "".join(line for line in traced[2].splitlines(True) if "traceexec:" not in line)
    assert (traced[0], traced[1], rest, traced[3]) == bare
    assert bare[3]["own.txt"] == bare[3]["lib.o"] == hashlib.sha256(b"bash\n").hexdigest()
    assert [s["name"] for s in target_spans(spans)] == ["plain.txt"]


def test_found_by_its_own_path_with_no_traceexec_on_path(tmp_path, home):
    env = traceexec_env(home)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not os.path.exists(os.path.join(p, "traceexec")))
    script = os.path.join(BIN_DIR, "traceexec")  # as the quick start installs it
    (tmp_path / "work").mkdir()
    bare, traced, spans = bare_and_traced(tmp_path, home, PIPEFAIL, ["-k"], env=env,
                                          traced=[os.path.relpath(script, tmp_path / "work"),
                                                  "--make", "--"])
    assert traced == bare
    assert len(recipe_lines(spans)) == 2


ONESHELL = {"Makefile": ONESHELL_MAKEFILE}


def test_oneshell_recipe_keeps_its_meaning(tmp_path, home):
    bare, traced, spans = bare_and_traced(tmp_path, home, ONESHELL)
    assert bare[0] == 2 and traced == bare
    assert len(recipe_lines(spans)) == 1


MODES = {"Makefile": """\
all: a b c
a:
\t@echo a > a.txt
b: a
\tfalse
\techo b > b.txt
c:
\t@sleep 0.1; echo c; echo c-err >&2
\techo c > c.txt
.PHONY: all
""", "sub/Makefile": "x:\n\techo x > x.txt\n"}


@pytest.mark.parametrize("args", [["-k"], ["-i"], ["-n"], ["-q"], ["-t"], ["-j3", "-k"],
                                  ["-j3", "-k", "--output-sync=target"], []],
                         ids=lambda a: " ".join(a) or "plain")
def test_make_options_keep_their_outcome(tmp_path, home, args):
    bare, traced, spans = bare_and_traced(tmp_path, home, MODES, args)
    if "-j3" in args:  # lines of parallel targets interleave: compare them as sets
        bare = bare[:1] + tuple(sorted(x.splitlines()) for x in bare[1:3]) + bare[3:]
        traced = traced[:1] + tuple(sorted(x.splitlines()) for x in traced[1:3]) + traced[3:]
    assert traced == bare
    ran = 0 if set(args) & {"-n", "-q", "-t"} else None
    if ran == 0:
        assert recipe_lines(spans) == []


RECURSIVE = {"Makefile": """\
SHELL := /bin/bash
STAMP := $(shell echo made-while-reading)
all: lib
\techo "$(STAMP) $(shell echo $${BASH_VERSION:+bash})" > top.txt
lib:
\t$(MAKE) -C lib
.PHONY: all lib
""", "lib/Makefile": """\
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
all:
\techo one | cat > one.txt
\techo $${BASH_VERSION:+bash} > two.txt
"""}


def test_recursive_make_and_shell_function(tmp_path, home):
    bare, traced, spans = bare_and_traced(tmp_path, home, RECURSIVE)
    assert bare[0] == 0 and bare[3]["top.txt"] == traced[3]["top.txt"]
    assert traced == bare
    [build] = by_name(spans)["build"]
    targets = {(s["name"], s["attributes"]["make.level"]): s for s in target_spans(spans)}
    assert sorted(targets) == [("all", 0), ("all", 1), ("lib", 0)]
    assert targets["lib", 0]["parent_span_id"] == targets["all", 0]["parent_span_id"] \
        == build["span_id"]
    [recursive] = lines_of(spans, targets["lib", 0])
    assert targets["all", 1]["parent_span_id"] == recursive["span_id"]
    assert len(lines_of(spans, targets["all", 1])) == 2
    # all waited for lib: the same link type as the DAG driver's
    assert [link["span_id"] for link in targets["all", 0]["links"]] == [targets["lib", 0]["span_id"]]
    assert targets["all", 0]["links"][0]["attributes"] == {"traceexec.link.type": "depends"}
    # $(shell ...) in a recipe: with the Makefile's bash, traced; while reading: as it was
    assert bare[3]["top.txt"] == hashlib.sha256(b"made-while-reading bash\n").hexdigest()
    [call] = [s for s in recipe_lines(spans) if s["parent_span_id"] == build["span_id"]]
    assert call["attributes"]["make.target"] == "" and call["attributes"]["make.level"] == 0
    assert call["attributes"]["process.command_args"][:2] == ["/bin/bash", "-c"]
    assert {s["trace_id"] for s in spans} == {build["trace_id"]}


def test_shell_on_the_command_line_refuses_when_flags_are_the_makefiles(tmp_path, home):
    (tmp_path / "Makefile").write_text(PIPEFAIL["Makefile"])
    env = traceexec_env(home)
    result = subprocess.run([MAKE, "-k", "SHELL=traceexec"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2  # failing bare, failing here: never a pass
    refusals = [line for line in result.stderr.splitlines() if line.startswith("traceexec:")]
    assert refusals and "traceexec --make" in refusals[0]
    assert not (tmp_path / "first.txt").exists()


def test_a_launcher_that_cannot_be_made_leaves_the_makefiles_shell(tmp_path, home):
    """traceexec.mk on its own: when traceexec cannot answer with a launcher (here a
    register that fails), the Makefile's SHELL stays and make says so in one line."""
    from traceexec.make import setup
    run = tmp_path / "run"
    run.mkdir()
    register = run / "traceexec-register"
    register.write_text("#!/bin/sh\necho 'traceexec: cannot' >&2\nexit 2\n")
    register.chmod(0o755)
    work = tmp_path / "work"
    write_tree(work, PIPEFAIL)
    env = traceexec_env(home)
    bare = make(work, env, "-k")
    write_tree(work, PIPEFAIL)
    env.update(MAKEFILES=setup.FRAGMENT, TRACEEXEC_MAKE_DIR=str(run))
    status, out, err = make(work, env, "-k")
    notices = [line for line in err.splitlines() if "traceexec:" in line]
    assert len(notices) == 2 and "untraced" in notices[1]  # the register's line, make's line
    rest = "".join(line for line in err.splitlines(True) if "traceexec:" not in line)
    assert (status, out, rest) == bare


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
def test_the_runs_directory_goes_and_target_spans_come_with_or_without_a_tty(tmp_path, home,
                                                                             tty):
    write_tree(tmp_path / "work", PIPEFAIL)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = traceexec_env(home, TMPDIR=scratch)
    result = subprocess.run(TRACEEXEC + ["--make"] + (["--tty"] if tty else []) +
                            ["--", MAKE, "-k"], cwd=tmp_path / "work", env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert os.listdir(scratch) == []
    spans = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)]
    assert sorted(s["name"] for s in target_spans(spans)) == ["first", "pipe"]


def test_target_spans_and_links_reach_a_collector(tmp_path, home, receiver):
    """``traceexec serve`` in another process, over OTLP/gRPC: the recipe lines and the
    target spans with their links arrive as the local store has them."""
    write_tree(tmp_path / "work", RECURSIVE)
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
    result = subprocess.run(TRACEEXEC + ["--make", "--name", "build", "--", MAKE],
                            cwd=tmp_path / "work", env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # build, 3 targets, 4 recipe lines, the $(shell ...) in a recipe
    spans = receiver.wait_for(9)
    targets = {(s["name"], s["attributes"]["make.level"]): s for s in target_spans(spans)}
    assert sorted(targets) == [("all", 0), ("all", 1), ("lib", 0)]
    assert [link["span_id"] for link in targets["all", 0]["links"]] == \
        [targets["lib", 0]["span_id"]]
    assert {s["trace_id"] for s in spans} == {targets["lib", 0]["trace_id"]}


def test_a_build_with_a_collector_leaves_no_folder_behind(tmp_path, home, receiver):
    """With a collector, a recipe line's wrapper forks an exporter that outlives the build
    and imports its modules then: under PYTHONDONTWRITEBYTECODE their byte code went to
    the run's folder, which importlib made again after traceexec had removed it."""
    write_tree(tmp_path / "work", RECURSIVE)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                        TMPDIR=str(temporary), XDG_CACHE_HOME=str(tmp_path / "cache"),
                        PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(TRACEEXEC + ["--make", "--", MAKE], cwd=tmp_path / "work",
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    receiver.wait_for(9)
    deadline = time.monotonic() + 3  # the exporters' last imports
    while time.monotonic() < deadline:
        assert os.listdir(temporary) == []
        time.sleep(0.1)


CHAIN = {"Makefile": "a.txt:\n\techo a > $@\nb.txt: a.txt\n\tcat a.txt > $@\n"}


def test_why_each_target_was_remade(tmp_path, home):
    work = tmp_path / "work"
    write_tree(work, CHAIN)
    env = traceexec_env(home)
    assert make(work, env, "b.txt")[0] == 0
    os.utime(work / "b.txt", (1_000_000_000, 1_000_000_000))  # a.txt is newer now
    os.utime(work / "a.txt", (1_000_000_100, 1_000_000_100))

    def traced(*args):
        shutil.rmtree(home)
        home.mkdir()
        result = subprocess.run(TRACEEXEC + ["--make", "--", MAKE, "b.txt"] + list(args),
                                cwd=work, env=env, capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        spans = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)]
        return {s["name"]: s["attributes"] for s in target_spans(spans)}

    newer = traced()
    assert list(newer) == ["b.txt"]
    assert newer["b.txt"]["make.reason"] == "newer prerequisites"
    assert newer["b.txt"]["make.newer_prerequisites"] == ["a.txt"]
    forced = traced("-B")
    assert {name: attrs["make.reason"] for name, attrs in forced.items()} == {
        "a.txt": "forced (-B)", "b.txt": "forced (-B)"}
    (work / "a.txt").unlink()
    (work / "b.txt").unlink()
    missing = traced()
    assert {name: attrs["make.reason"] for name, attrs in missing.items()} == {
        "a.txt": "target missing", "b.txt": "target missing"}


PHONY = {"Makefile": """\
PLATS = linux posix
CHECK := check
SIDE = $(shell echo ran >> side.log)side
all: out.txt $(PLATS) docs $(CHECK)
\t@echo all done
$(CHECK) $(SIDE):
\techo $@
out.txt:
\techo out > $@
$(PLATS):
\t$(MAKE) -C sub $@
docs:
\techo docs > docs/index.txt
.PHONY: all $(PLATS) \\
\tdocs # docs is a directory too
.PHONY: $(CHECK) $(SIDE)
""", "sub/Makefile": "SHELL := /bin/bash\n.PHONY : linux posix\nlinux posix:\n\techo $@ > $@.txt\n",
    "docs/README": "the docs\n"}


def test_phony_targets_are_remade_because_they_are_phony(tmp_path, home):
    """Targets in .PHONY (written out, or through a variable) say so; a target whose
    file is missing says that, and a phony target whose file exists is still phony.
    A variable that runs $(shell ...) is not expanded again: it ran as often as bare."""
    bare, traced, spans = bare_and_traced(tmp_path, home, PHONY)
    assert bare[0] == 0 and traced == bare
    assert bare[3]["side.log"] == hashlib.sha256(b"ran\nran\n").hexdigest()  # rule, .PHONY
    reasons = {(s["name"], s["attributes"]["make.level"]): s["attributes"]["make.reason"]
               for s in target_spans(spans)}
    assert reasons == {("all", 0): "phony", ("out.txt", 0): "target missing",
                       ("check", 0): "phony",
                       ("linux", 0): "phony", ("posix", 0): "phony", ("docs", 0): "phony",
                       ("linux", 1): "phony", ("posix", 1): "phony"}


def test_a_makefile_that_includes_thousands_of_makefiles(tmp_path, home):
    """Dependency files (.d, .Po, .cmd) can make $(MAKEFILE_LIST) longer than one
    argument may be (128 KiB): asking traceexec for the launcher must still work, and
    print nothing."""
    names = ["deps/%s%05d.mk" % ("d" * 90, i) for i in range(1600)]
    files = {name: "# a dependency file\n" for name in names}
    files["Makefile"] = "SHELL := /bin/bash\nall:\n\t@echo built\n.PHONY: all\n" + "".join(
        "include %s\n" % name for name in names)
    bare, traced, spans = bare_and_traced(tmp_path, home, files)
    assert bare[:3] == (0, "built\n", "") and traced == bare
    [target] = target_spans(spans)
    assert (target["name"], target["attributes"]["make.reason"]) == ("all", "phony")
