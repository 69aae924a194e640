"""The README and docs/*.md as a newcomer uses them.

A block fenced as ``sh`` is a command block: it runs verbatim, with ``bash -e -o pipefail``,
in a temporary working directory holding a copy of ``examples/``, with the venv's ``bin``
first on ``PATH``, ``TRACEEXEC_HOME`` and ``HOME`` temporary directories and a bounded time.
A failing block fails the suite, naming its file and line. Anything not meant to run that way
is fenced ``text`` (or names its language: ``yaml``, ``make``, ``cron``...); indented code
blocks are refused, so that no block escapes the choice. Paths under ``tests/``, ``examples/``,
``bench/`` and ``docs/`` that the pages name must exist.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, traceexec_env

PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                               for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)")
BLOCK_SECONDS = 120


class Block:
    def __init__(self, page, line, info, text):
        self.page, self.line, self.info, self.text = page, line, info, text

    def __repr__(self):
        return f"{self.page}:{self.line}"


def blocks(page):
    """The fenced blocks of a page: (page, line of the opening fence, info string, text)."""
    found, opened = [], None
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if opened is None and match:
            opened = (number, match.group(1), match.group(2), [])
        elif opened is not None and line.startswith(opened[1]) and not line.strip(opened[1][0]).strip():
            found.append(Block(page, opened[0], opened[2], "\n".join(opened[3]) + "\n"))
            opened = None
        elif opened is not None:
            opened[3].append(line)
    assert opened is None, f"{page}:{opened[0]}: a fence that is never closed"
    return found


def indented_blocks(page):
    """Lines that open a Markdown indented code block (after a blank line, outside fences and
    lists, four spaces in)."""
    found, fenced, previous, in_list = [], False, "", False
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, line in enumerate(lines, 1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced:
            if re.match(r"\s*([-*+]|\d+\.)\s", line):
                in_list = True
            elif line and not line.startswith(" "):
                in_list = False
            if not previous.strip() and line.startswith("    ") and line.strip() and not in_list:
                found.append(f"{page}:{number}")
        previous = line
    return found


COMMAND_BLOCKS = [b for page in PAGES for b in blocks(page) if b.info == "sh"]


def test_every_page_has_a_command_block_or_says_why_not():
    assert any(b.page == "README.md" for b in COMMAND_BLOCKS), "the README runs nothing"
    for page in PAGES:
        assert all(b.info for b in blocks(page)), \
            f"{page}: a fence without an info string (sh: run by this test; text: not run)"


def test_no_indented_code_blocks():
    found = [where for page in PAGES for where in indented_blocks(page)]
    assert found == [], "fence these as sh (run by this test) or text: " + ", ".join(found)


def test_named_paths_exist():
    missing = []
    for page in PAGES:
        with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
            text = handle.read()
        for path in set(re.findall(r"\b((?:tests|examples|bench|docs|stress)/[\w./-]*\w)", text)):
            if not os.path.exists(os.path.join(ROOT, path.split("::")[0])):
                missing.append(f"{page}: {path}")
    assert missing == [], "pages name paths that do not exist: " + ", ".join(sorted(missing))


def anchors(page):
    """The anchors a page's headings make, as GitHub makes them."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        text = re.sub(r"^(`{3,}).*?^\1", "", handle.read(), flags=re.M | re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_readme_stays_short_with_contents():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert text.count("\n") <= 350
    assert "## Contents" in text


def test_links_between_pages_land():
    broken = []
    for page in PAGES:
        with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
            text = handle.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.exists(os.path.join(ROOT, linked)):
                broken.append(f"{page}: {target}")
            elif anchor and linked.endswith(".md") and anchor not in anchors(linked):
                broken.append(f"{page}: {target}")
    assert broken == [], "links that land nowhere: " + ", ".join(broken)


def run_block(text, work, home, timeout=BLOCK_SECONDS):
    """Run a block's text as a script in its own session, and leave nothing of it running."""
    env = traceexec_env(home, HOME=work)
    env.pop("PYTHONPATH")  # the venv's installed traceexec, as a reader's would be
    process = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", text], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.returncode, output


@pytest.fixture
def workdir(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(os.path.join(ROOT, "examples"), work / "examples")
    home = tmp_path / "traceexec-home"
    home.mkdir()
    return str(work), str(home)


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=repr)
def test_command_block_runs_verbatim(block, workdir):
    work, home = workdir
    status, output = run_block(block.text, work, home)
    assert status is not None, f"{block!r}: still running after {BLOCK_SECONDS} s\n{output}"
    assert status == 0, f"{block!r}: exit status {status}\n{block.text}\n{output}"


def test_quick_start_runs_the_main_job(workdir):
    """The quick start's install line, checked as written; its run as written, with the
    venv the suite runs in (installing again here would need the network)."""
    readme = blocks("README.md")
    marker = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split(
        "<!-- quick-start:", 1)[1]
    install = next(b for b in readme if b.text.strip() in marker.split("```", 2)[1])
    steps = [step.strip() for step in install.text.strip().split("&&")]
    assert steps[:2] == ["python3 -m venv .venv", ".venv/bin/pip install -q ."]
    assert steps[2].startswith(".venv/bin/traceexec ")
    assert os.path.isfile(os.path.join(ROOT, "pyproject.toml"))
    work, home = workdir
    venv_bin = os.path.join(work, ".venv", "bin")
    os.makedirs(venv_bin)
    os.symlink(os.path.join(os.path.dirname(sys.executable), "traceexec"),
               os.path.join(venv_bin, "traceexec"))
    status, output = run_block(steps[2], work, home)
    assert status == 0, output
    assert "succeeded" in output and "critical path" in output
    assert any(b.text.strip() == "bash scripts/test" for b in readme)
