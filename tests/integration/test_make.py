"""GNU make with SHELL = traceexec: one trace per build, one span per recipe line.

Runs the real make on examples/make (copied to a temporary directory) and on
a Makefile that knows nothing of traceexec, then reads the local store.
"""
from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TRACEEXEC, traceexec_env
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
