"""The watchdog's goodbye: the driver does not wait for it, and it is reaped later."""
from __future__ import annotations

import os
import signal
import threading
import time

from traceexec.dag import process

SLOW = """import os, sys, time
data = b""
while b"end" not in data:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    data += chunk
with open(sys.argv[1] + ".tmp", "w") as handle:
    handle.write(data.decode())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
"""


def slow_watchdog(tmp_path, monkeypatch):
    """The watchdog replaced by one that, told ``end``, writes what it was told to a
    file and then takes an hour to exit."""
    script = tmp_path / "watchdog.py"
    script.write_text(SLOW)
    said = tmp_path / "said"
    real = os.posix_spawn

    def spawn(path, argv, env, **kwargs):
        return real(path, argv[:-1] + [str(script), str(said)], env, **kwargs)
    monkeypatch.setattr(process.os, "posix_spawn", spawn)
    return said


def test_close_says_goodbye_without_waiting_for_the_watchdog(tmp_path, monkeypatch):
    # only this test's watchdog in the list: an earlier test's on this worker may still be
    # running (not yet reapable), and would stay in it
    monkeypatch.setattr(process, "_ENDING", [])
    said = slow_watchdog(tmp_path, monkeypatch)
    watchdog = process.Watchdog()
    watchdog.started(12345678)
    pid = watchdog.pid
    closing = threading.Thread(target=watchdog.close, daemon=True)
    closing.start()
    closing.join(60)
    returned = not closing.is_alive()
    deadline = time.monotonic() + 60
    while not said.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    assert returned, "close() waited for the watchdog to exit"
    assert said.read_text() == "+12345678\nend\n"
    assert process._ENDING == [pid]
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
    process.Watchdog()  # the next one reaps it
    assert process._ENDING == []
    try:
        os.waitpid(pid, os.WNOHANG)
        raise AssertionError("the watchdog was not reaped")
    except ChildProcessError:
        pass



def _imports(args) -> set:
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime"] + args,
                          input=b"end\n", capture_output=True)
    assert done.returncode == 0, done.stderr
    return {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_the_watchdog_imports_nothing_but_built_in_modules():
    """It starts with every run: ``os`` (with posixpath, stat, abc...) would be a fifth of
    its start; ``posix`` has the three functions it calls."""
    import sys
    imported = _imports([process.Watchdog.PROGRAM]) - _imports(["-c", "pass"])
    assert imported <= set(sys.builtin_module_names), sorted(imported)
