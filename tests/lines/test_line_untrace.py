"""lines/untrace.py and lines/elf.py on real bash processes: the xtrace flag found in
a running bash's memory, and turned off from outside while the script runs on."""
import os
import subprocess
import threading
import time

import pytest

from traceexec.lines import elf, untrace

BASH = "/bin/bash"
LOOP = "i=0; while (( i < 300000 )); do (( ++i )); done; echo \"done $i\""


def started(text, xtrace_fd=None):
    """A bash running ``text`` (xtrace to ``xtrace_fd`` when given), once it has started
    (its first line on stdout)."""
    prefix = "exec 9>&%d; BASH_XTRACEFD=9; set -x; " % xtrace_fd if xtrace_fd else ""
    proc = subprocess.Popen([BASH, "-c", prefix + "echo up; " + text],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                            pass_fds=(xtrace_fd,) if xtrace_fd else ())
    assert proc.stdout.readline() == b"up\n"
    return proc


def test_the_elf_reader_finds_bashs_exported_variables():
    with open(BASH, "rb") as handle:
        image = elf.read_image(handle, {"echo_command_at_execute", "line_number", "nothing"})
    assert set(image.symbols) == {"echo_command_at_execute", "line_number"}
    assert image.symbols["echo_command_at_execute"].size == 4


def test_a_file_that_is_not_elf_is_refused(tmp_path):
    path = tmp_path / "script"
    path.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(elf.NotElf):
        with open(path, "rb") as handle:
            elf.read_image(handle, {"echo_command_at_execute"})


@pytest.mark.parametrize("xtrace", [True, False])
def test_the_flag_reads_as_bash_has_it(xtrace):
    read_end, write_end = os.pipe()
    proc = started("read -r _; :", write_end if xtrace else None)
    try:
        untracer = untrace.Untracer(proc.pid, BASH)
        assert untracer._locate(proc.pid), untracer.problem
        assert untracer.is_on(proc.pid) == xtrace
    finally:
        proc.kill()
        proc.wait()
        os.close(read_end)
        os.close(write_end)


def test_turned_off_from_outside_the_loop_runs_on_untraced():
    read_end, write_end = os.pipe()
    proc = started(LOOP, write_end)
    os.close(write_end)
    trace = []
    reader = threading.Thread(target=lambda: trace.extend(iter(
        lambda: os.read(read_end, 1 << 20), b"")))
    reader.start()
    # the loop traced before it is turned off: "up" on stdout only says bash started, and
    # beside a CPU burner the untracer could stop it before its first traced line
    deadline = time.monotonic() + 60
    while b"((  ++i  ))" not in b"".join(list(trace)):
        assert time.monotonic() < deadline and proc.poll() is None, b"".join(trace)[-200:]
        time.sleep(0.001)
    untracer = untrace.Untracer(proc.pid, BASH)
    while not untracer.turned_off:  # stopped inside PS4's expansion: the flag reads 0
        assert time.monotonic() < deadline and untracer.problem is None, untracer.problem
        try:
            for pid in untracer.stop_shells():
                untracer.turn_off(pid)
        finally:
            untracer.release()
    state = (untracer.turned_off, untracer.stopped, untracer.late, untracer.retry,
             untracer.problem)
    assert list(untracer.turned_off) == [proc.pid], state
    assert not untracer.stopped and not untracer.late, state
    assert proc.stdout.read() == b"done 300000\n" and proc.wait(60) == 0, state
    reader.join(60)
    os.close(read_end)
    trace = b"".join(trace)
    assert b"((  ++i  ))" in trace and b"echo 'done" not in trace  # it ended untraced


def test_a_shell_that_is_not_our_child_is_left_alone():
    proc = subprocess.Popen([BASH, "-c", "echo up; (read -r _; :) ; :"],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"up\n"
        untracer = untrace.Untracer(proc.pid, BASH)
        untracer.main_pid = os.getppid()  # a bash, but not ours
        assert untracer.stop_shells() == []
    finally:
        proc.kill()
        proc.wait()


def test_sampling_reads_the_line_and_function_a_shell_is_at(tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("echo up\nwork() {\n  read -r _ || :\n}\nwork\n")
    proc = subprocess.Popen([BASH, str(script)], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"up\n"
        untracer = untrace.Untracer(proc.pid, BASH)
        assert untracer._locate(proc.pid), untracer.problem
        untracer.starts[proc.pid] = untrace._stat(proc.pid)[2]
        untracer.samples[proc.pid] = {}
        deadline = time.monotonic() + 60
        while ("work", 3) not in untracer.samples[proc.pid]:  # until bash is in read
            assert time.monotonic() < deadline, untracer.samples
            untracer.sample()
        proc.stdin.close()
        assert proc.wait(60) == 0
        untracer.sample()
        assert proc.pid in untracer.ended  # it ended: no more readings
    finally:
        proc.kill()
        proc.wait()
