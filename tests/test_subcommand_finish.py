"""``subcommand.finish``: a DAG run ends without the interpreter's finalisation only when
nothing is left for it to do, and its output and exit status are those of a normal exit."""
import atexit
import json
import os
import subprocess
import sys
import threading

from conftest import ROOT, traceexec_env
from traceexec.subcommand import finish

SCRIPT = os.path.join(ROOT, "bin", "traceexec")


def test_a_thread_still_running_leaves_the_exit_to_python():
    done = threading.Event()
    worker = threading.Thread(target=done.wait)
    worker.start()
    try:
        assert finish(3) == 3
    finally:
        done.set()
        worker.join()


def test_an_atexit_callback_leaves_the_exit_to_python():
    def callback():
        pass
    atexit.register(callback)
    try:
        assert finish(3) == 3
    finally:
        atexit.unregister(callback)


def test_a_status_that_is_no_number_is_given_back():
    assert finish(None) is None
    assert finish("failed") == "failed"


def _run(tmp_path, home, text, *args, prelude=""):
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    code = prelude + "import runpy, sys; sys.argv = %r; runpy.run_path(%r, run_name='__main__')" \
        % ([SCRIPT, "run"] + list(args) + [str(path)], SCRIPT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          env=traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache")))


def test_a_run_keeps_its_exit_status_and_its_whole_output(tmp_path, home):
    steps = "".join("  - name: s%d\n    command: /bin/echo %s\n" % (i, "x" * 200)
                    for i in range(40))
    done = _run(tmp_path, home, "name: big\nsteps:\n%s  - name: last\n    command: /bin/false\n"
                % steps, "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)  # printed whole, after 40 steps' lines on stderr
    assert result["exit_status"] == 1 and len(result["steps"]) == 41


def test_a_run_still_runs_the_callbacks_registered_for_its_exit(tmp_path, home):
    done = _run(tmp_path, home, "name: one\nsteps:\n  - name: a\n    command: /bin/true\n",
                "--quiet", prelude="import atexit; atexit.register(print, 'at exit'); ")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"at exit\n"
