"""dag.loop.Loop: a turn that does the last piece of work does not then wait for more."""
from __future__ import annotations

import os
import threading

import pytest

from traceexec.dag.loop import Loop


@pytest.fixture
def loop():
    made = Loop()
    yield made
    made.close()


def _turns_until(loop, is_done, seconds=10.0) -> bool:
    """Whether ``loop.run(is_done)`` returns within ``seconds``; a loop stuck waiting is
    woken afterwards (its own wake-up pipe), so that no thread is left behind."""
    thread = threading.Thread(target=loop.run, args=(is_done,), daemon=True)
    thread.start()
    thread.join(seconds)
    returned = not thread.is_alive()
    while thread.is_alive():
        os.write(loop._wake_write, b"\0")
        thread.join(0.1)
    return returned


def test_a_timer_due_when_the_turn_starts_ends_the_wait_it_finishes(loop):
    # The run's last event fires at the start of a turn (a due timer: a step's clean-up
    # kill, its timeout): with nothing else to come, the turn must not wait for I/O.
    # Under load a DAG run waited so for good (a full suite run, 17 minutes).
    done = []
    loop.call_later(0, lambda: done.append(True))
    assert _turns_until(loop, lambda: bool(done))


def test_a_callback_queued_for_the_next_turn_ends_the_wait_too(loop):
    done = []
    loop.call_soon(done.append, True)
    assert _turns_until(loop, lambda: bool(done))


def test_a_turn_with_nothing_due_still_waits_for_its_timer(loop):
    done = []
    loop.call_later(0.2, lambda: done.append(loop.clock()))
    started = loop.clock()
    assert _turns_until(loop, lambda: bool(done))
    assert done[0] - started >= 0.2


@pytest.mark.parametrize("size", [1, 4096, 10000])
def test_one_turn_drops_every_wake_up_byte(loop, size):
    os.write(loop._wake_write, b"\x11" * size)  # SIGCHLD's byte, many times over
    loop.run_once(0)
    with pytest.raises(BlockingIOError):
        os.read(loop._wake_read, 1)
