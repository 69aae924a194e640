"""traceexec at a real terminal: an interactive bash in tmux, keys sent as a user types them.

Every case runs the same key presses against the bare command first; the
screen (what bash and the command printed) must be the same under traceexec.
tmux is installed by scripts/test.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import BIN_DIR, ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (scripts/test installs it)")
SIGNAL_CHILD = os.path.join(ROOT, "tests", "helpers", "signal_child.py")
TRACEEXEC = os.path.join(BIN_DIR, "traceexec")
STATUS = '; echo "status:$?."'
"""Typed after a command; the screen then shows status:N. (the typed line shows status:$?.)"""
DONE = r"status:\d+\."


class Terminal:
    """An interactive bash in a detached tmux session of its own server."""

    def __init__(self, env, tmp_path):
        self.socket = "traceexec-test-%s" % uuid.uuid4().hex[:12]
        rc = tmp_path / "bashrc"
        rc.write_text("PS1='te> '\nset +o histexpand\n")
        subprocess.run(self._tmux("new-session", "-d", "-x", "120", "-y", "50",
                                  "bash --noprofile --rcfile %s -i" % rc),
                       env=env, check=True, timeout=30)
        self.wait_for("te>")

    def _tmux(self, *args):
        return ["tmux", "-L", self.socket] + list(args)

    def keys(self, *keys):
        subprocess.run(self._tmux("send-keys", "-t", "0") + list(keys), check=True, timeout=30)

    def line(self, text):
        self.keys("-l", text)
        self.keys("Enter")

    def screen(self) -> str:
        result = subprocess.run(self._tmux("capture-pane", "-p", "-t", "0", "-S", "-200"),
                                capture_output=True, text=True, timeout=30)
        return "\n".join(line.rstrip() for line in result.stdout.splitlines()).strip()

    def wait_for(self, text, count=1, seconds=30.0):
        """Wait until ``text`` (a regular expression) shows ``count`` times."""
        deadline = time.monotonic() + seconds
        while len(re.findall(text, self.screen())) < count:
            if time.monotonic() > deadline:
                raise AssertionError("waited for %r:\n%s" % (text, self.screen()))
            time.sleep(0.05)

    def clear(self):
        self.line("clear")
        time.sleep(0.2)
        self.keys("C-l")

    def close(self):
        subprocess.run(self._tmux("kill-server"), capture_output=True, timeout=30)


@pytest.fixture
def terminal(env, tmp_path):
    term = Terminal(env, tmp_path)
    yield term
    term.close()


def screens(terminal, script, prefixes=("", TRACEEXEC + " --")):
    """Run ``script(terminal, prefix)`` bare and under traceexec; the screens after each."""
    out = []
    for prefix in prefixes:
        terminal.clear()
        script(terminal, prefix)
        terminal.wait_for(r"(^|\n)te>$")  # the prompt is back
        screen = terminal.screen().replace(prefix, "") if prefix else terminal.screen()
        screen = re.sub(r"\[(\d+)\] \d+", r"[\1] PID", screen)
        out.append("\n".join(re.sub(" +", " ", line).strip() for line in screen.splitlines()))
    return out


def test_ctrl_c_reaches_the_command_once(terminal, tmp_path):
    def script(term, prefix):
        log = tmp_path / ("log%d" % len(os.listdir(tmp_path)))
        term.line("%s %s %s %s%s" % (prefix, sys.executable, SIGNAL_CHILD, log, STATUS))
        term.wait_for("ready")
        time.sleep(0.2)
        term.keys("C-c")
        term.wait_for(DONE)
        term.line("cat %s" % log)
        term.wait_for("SIGINT")
    bare, traced = screens(terminal, script)
    assert "status:12." in bare and bare.count("SIGINT") == 1
    assert traced.count("SIGINT") == 1 and "status:12." in traced


@pytest.mark.parametrize("prefix", [TRACEEXEC + " --", TRACEEXEC + " --tty --"],
                         ids=["plain", "tty"])
def test_ctrl_z_then_fg(terminal, prefix):
    def script(term, prefix):
        term.line("%s sh -c 'read x; echo got $x'%s" % (prefix, STATUS))
        time.sleep(0.5)
        term.keys("C-z")
        term.wait_for("Stopped")
        term.line("fg")
        time.sleep(0.5)
        term.line("hello")
        term.wait_for("got hello")
    bare, traced = screens(terminal, script, ("", prefix))
    assert "Stopped" in bare and "status:148." in bare  # bash: 128 + SIGTSTP
    assert traced == bare


def test_a_command_that_stops_itself_gives_the_prompt_back(terminal):
    def script(term, prefix):
        term.line("%s sh -c 'kill -STOP $$; echo resumed'%s" % (prefix, STATUS))
        term.wait_for("Stopped")
        term.line("fg")
        term.wait_for("resumed")
    bare, traced = screens(terminal, script)
    assert "status:147." in bare  # bash: 128 + SIGSTOP
    assert traced == bare


def test_a_background_tty_job_runs_until_it_needs_the_terminal(terminal):
    def script(term, prefix):
        term.line("%s sh -c 'sleep 1; echo bg-done' &" % prefix)
        time.sleep(0.3)
        term.line("jobs")
        term.wait_for("Running")
        term.wait_for("bg-done")
        term.line("wait" + STATUS)
        term.wait_for(DONE)
    bare, traced = screens(terminal, script, ("", TRACEEXEC + " --tty --"))
    assert "Running" in bare and "bg-done" in bare
    assert traced == bare


@pytest.mark.parametrize("option", ["--lines", "--tty --lines"], ids=["plain", "tty"])
def test_turning_xtrace_off_is_no_job_stop(terminal, tmp_path, option):
    """--lines stops the script's bash with ptrace past its span budget (lines/untrace.py);
    wait reports that stop to traceexec as well, which must not take it for the job's
    stop (an interactive shell waits on it: traceexec would stop itself)."""
    loop = tmp_path / "loop.sh"
    loop.write_text("#!/bin/bash\ni=0\nwhile (( i < 20000 )); do (( ++i )); done\n"
                    "echo \"looped $i\"\n")
    loop.chmod(0o755)

    def script(term, prefix):
        term.line("%s %s%s" % (prefix, loop, STATUS))
        term.wait_for(DONE, seconds=120)
    bare, traced = screens(terminal, script, ("", "%s %s --" % (TRACEEXEC, option)))
    for screen in (bare, traced):  # (the typed line may wrap: only what came after)
        assert screen.endswith("looped 20000\nstatus:0.\nte>") and "Stopped" not in screen
