"""Real builds, bare and under ``traceexec --make``, from source distributions
on PyPI: jq's Python binding (jq==1.8.0) carries jq 1.7.1's release tarball
(configure + automake + libtool, SHELL = /bin/bash), and in it Oniguruma, built
here with Debian's cmake (CMake's generated, recursive Makefiles); lupa==2.8
carries Lua 5.1.5, a plain Makefile project whose makes recurse two deep.

Each build runs from the same pristine tree at the same path: bare with
``--debug=j`` (to count the recipe lines make ran, independently of traceexec),
bare, and traced.  Bare and traced must give the same exit status, the same
stdout and stderr lines and the same checksums of every file; the trace must
have one span per recipe line, the target spans with their links, one trace and
no orphan.  A deliberately broken source must fail the same way traced.

Each sdist is downloaded once into the user's cache (bench/make_sources.py), so
re-runs do not download again.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, TRACEEXEC, traceexec_env
from traceexec.store import local as store

sys.path.insert(0, ROOT)
from bench import make_sources  # noqa: E402  (the sdist, shared with bench/make.py)

MAKE, CMAKE = shutil.which("make"), shutil.which("cmake")
pytestmark = pytest.mark.skipif(MAKE is None or CMAKE is None,
                                reason="GNU make and cmake come from scripts/test")
JQ_OBJECTS = ["src/jv_alloc.lo", "src/jv_unicode.lo", "src/util.lo", "src/jv_file.lo"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """jq 1.7.1's tree, configured (bare, once): (pristine jq, pristine oniguruma)."""
    jq = pathlib.Path(make_sources.extract_jq(tmp_path_factory.mktemp("sources")))
    subprocess.run(["./configure", "-q", "--without-oniguruma", "--disable-docs",
                    "--disable-valgrind"], cwd=jq, check=True, capture_output=True,
                   timeout=300)
    return jq, jq / "modules" / "oniguruma"


def tree_sums(directory):
    sums = {}
    for top, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                with open(path, "rb") as handle:
                    sums[os.path.relpath(path, directory)] = \
                        hashlib.sha256(handle.read()).hexdigest()
    return sums


class Build:
    """One way of building: a fresh copy of the tree at ``work``, then make."""

    def __init__(self, tmp_path, home, pristine, prepare=None):
        self.work = tmp_path / "work"
        self.env = traceexec_env(home)
        self.pristine, self.prepare = pristine, prepare

    def run(self, make_args, prefix=(), cwd=None):
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.pristine, self.work, symlinks=True)
        if self.prepare:
            self.prepare(self.work)
        result = subprocess.run(list(prefix) + [MAKE] + list(make_args),
                                cwd=self.work / (cwd or ""), env=self.env,
                                capture_output=True, text=True, timeout=300)
        return (result.returncode, result.stdout.splitlines(), result.stderr.splitlines(),
                tree_sums(self.work))


def compare(build, make_args, home, cwd=None):
    """Bare with --debug=j, bare, traced: (bare outcome, (recipe lines make ran, targets
    that ran them), spans).  make reaps one child per recipe line, and puts one child
    per target on its chain."""
    debug = build.run(["--debug=j"] + make_args, cwd=cwd)
    started = (sum(line.startswith("Reaping ") for line in debug[1]),
               sum(line.startswith("Putting child") for line in debug[1]))
    bare = build.run(make_args, cwd=cwd)
    traced = build.run(make_args, TRACEEXEC + ["--make", "--name", "build", "--"], cwd=cwd)
    assert traced[0] == bare[0], traced[2][-20:]
    # with -j2 the lines of targets built side by side come in either order
    assert sorted(traced[1]) == sorted(bare[1])
    assert sorted(traced[2]) == sorted(bare[2])
    assert traced[3] == bare[3]
    spans = [s for t in store.trace_ids(str(home)) for s in store.read(str(home), t)]
    return bare, started, spans


def check_trace(spans, started):
    """One trace, no orphan, one span per recipe line, one per target, with links."""
    started, started_targets = started
    assert len({s["trace_id"] for s in spans}) == 1
    ids = {s["span_id"] for s in spans}
    assert [s["name"] for s in spans if s["parent_span_id"] not in ids] == ["build"]
    lines = [s for s in spans if "process.command_args" in s["attributes"]
             and s["attributes"].get("make.target")]
    assert len(lines) == started
    targets = {s["span_id"]: s for s in spans if "make.reason" in s["attributes"]}
    assert len(targets) == started_targets
    assert {s["parent_span_id"] for s in lines} == set(targets)
    for target in targets.values():
        for link in target["links"]:
            assert link["span_id"] in targets
            assert link["attributes"] == {"traceexec.link.type": "depends"}
    return targets


def test_autotools_libtool_build_traced_as_bare(sources, tmp_path, home):
    jq, _ = sources
    bare, started, spans = compare(Build(tmp_path, home, jq), ["-j2"] + JQ_OBJECTS, home)
    assert bare[0] == 0 and started[1] > len(JQ_OBJECTS)  # and the directories they need
    assert all(any(name.startswith(obj[:-3]) and name.endswith(".o") for name in bare[3])
               for obj in JQ_OBJECTS)
    targets = check_trace(spans, started)
    names = {t["name"]: t for t in targets.values()}
    assert set(JQ_OBJECTS) <= set(names)
    assert {names[o]["attributes"]["make.reason"] for o in JQ_OBJECTS} == {"target missing"}
    # an object waited for the directories it is made in (automake's .dirstamp targets)
    waited = {targets[link["span_id"]]["name"] for link in names["src/util.lo"]["links"]}
    assert waited == {"src/.dirstamp", "src/.deps/.dirstamp"}
    [line] = [s for s in spans if s["parent_span_id"] in targets
              and targets[s["parent_span_id"]]["name"] == "src/util.lo"]
    assert line["attributes"]["process.command_args"][0] == "/bin/bash"  # the Makefile's SHELL


def test_autotools_broken_source_fails_the_same_way(sources, tmp_path, home):
    jq, _ = sources

    def break_source(work):
        with open(work / "src" / "util.c", "a") as handle:
            handle.write("\n#error deliberately broken\n")
    bare, _, spans = compare(Build(tmp_path, home, jq, break_source), ["-k"] + JQ_OBJECTS,
                             home)
    assert bare[0] == 2 and any("deliberately broken" in line for line in bare[2])
    [failed] = [s for s in spans if "make.reason" in s["attributes"] and s["status_code"] == 2]
    assert failed["name"] == "src/util.lo"


ONIG_OBJECTS = ["src/ascii.o", "src/utf8.o", "src/euc_kr.o", "src/regtrav.o"]


def test_cmake_generated_makefiles_traced_as_bare(sources, tmp_path, home):
    _, oniguruma = sources
    # configured once where every build runs: CMake's build tree names absolute paths
    work, configured = tmp_path / "work", tmp_path / "configured"
    shutil.copytree(oniguruma, work, symlinks=True)
    subprocess.run([CMAKE, "-S", str(work), "-B", str(work / "build"),
                    "-DBUILD_SHARED_LIBS=OFF"], check=True, capture_output=True, timeout=300)
    work.rename(configured)
    bare, started, spans = compare(Build(tmp_path, home, configured),
                                   ["-j2"] + ONIG_OBJECTS, home, cwd="build")
    assert bare[0] == 0
    assert sum(name.endswith(".c.o") for name in bare[3]) == len(ONIG_OBJECTS)
    targets = check_trace(spans, started)
    by_level = {}
    for target in targets.values():
        by_level.setdefault(target["attributes"]["make.level"], set()).add(target["name"])
    # CMake's Makefiles are recursive: src/utf8.o (level 0) runs make -f .../build.make
    # for CMakeFiles/onig.dir/src/utf8.c.o (level 1), nested under that line
    assert by_level[1] == {"CMakeFiles/onig.dir/%s" % o.replace(".o", ".c.o")
                           for o in ONIG_OBJECTS}
    assert by_level[0] == {o.replace(".o", ".c.o") for o in ONIG_OBJECTS}
    lines = {s["span_id"]: s for s in spans if "process.command_args" in s["attributes"]}
    for target in targets.values():  # each sub-make's target under the line that ran it
        if target["attributes"]["make.level"] == 1:
            line = lines[target["parent_span_id"]]
            assert targets[line["parent_span_id"]]["attributes"]["make.level"] == 0


@pytest.fixture(scope="module")
def lua(tmp_path_factory):
    """Lua 5.1.5's pristine tree, from lupa's sdist (a plain, recursive Makefile)."""
    return pathlib.Path(make_sources.extract_lua51(tmp_path_factory.mktemp("lua")))


def test_plain_recursive_makefiles_traced_as_bare(lua, tmp_path, home):
    # make posix: the top Makefile runs 'cd src && $(MAKE) posix', and src/Makefile's
    # posix runs '$(MAKE) all MYCFLAGS=...': three makes, one under the other
    bare, started, spans = compare(Build(tmp_path, home, lua), ["-j2", "posix"], home)
    assert bare[0] == 0
    assert {"src/lua", "src/luac", "src/liblua.a", "src/lapi.o"} <= set(bare[3])
    targets = check_trace(spans, started)
    lines = {s["span_id"]: s for s in spans if "process.command_args" in s["attributes"]}
    by_level = {}
    for target in targets.values():
        by_level.setdefault(target["attributes"]["make.level"], []).append(target)
    assert [t["name"] for t in by_level[0]] == ["posix"] == [t["name"] for t in by_level[1]]
    assert {"lapi.o", "liblua.a", "lua", "luac"} <= {t["name"] for t in by_level[2]}
    for level in (1, 2):  # each sub-make's targets under the line of the make above
        for target in by_level[level]:
            line = lines[target["parent_span_id"]]
            assert line["name"] == ("cd" if level == 1 else "make")
            assert targets[line["parent_span_id"]] is by_level[level - 1][0]
    reasons = {(t["name"], level): t["attributes"]["make.reason"]
               for level, group in by_level.items() for t in group}
    assert reasons["posix", 0] == reasons["posix", 1] == "phony"  # .PHONY: all $(PLATS)
    assert reasons["lapi.o", 2] == "target missing"
    waited = {targets[link["span_id"]]["name"]
              for t in by_level[2] if t["name"] == "lua" for link in t["links"]}
    assert {"lua.o", "liblua.a"} <= waited


def test_plain_recursive_broken_source_fails_the_same_way(lua, tmp_path, home):
    def break_source(work):
        with open(work / "src" / "lparser.c", "a") as handle:
            handle.write("\n#error deliberately broken\n")
    bare, started, spans = compare(Build(tmp_path, home, lua, break_source),
                                   ["-k", "-j2", "posix"], home)
    assert bare[0] == 2 and any("deliberately broken" in line for line in bare[2])
    assert "src/lparser.o" not in bare[3] and "src/lapi.o" in bare[3]
    failed = {s["name"] for s in spans if "make.reason" in s["attributes"]
              and s["status_code"] == 2}
    assert failed == {"lparser.o", "posix"}  # and the two lines that ran the sub-makes
    check_trace(spans, started)
