"""One process of a step, watched from the event loop: output, timeout, stop, end.

A ``Child`` spawns its command (``process.spawn``), reads its stdout and stderr
pipes into ``output.Sink``s, enforces the step's timeout (TERM the session
and the tree, KILL what is left after the grace period) and, once the process
has ended and its pipes are drained, calls ``done(child)`` exactly once (its
``outcome`` set; inside the constructor when the command could not start).
A background process that keeps a pipe open does not hold the step: its
pipes are let go ``OUTPUT_GRACE_S`` after the command ended.
"""
from __future__ import annotations

import os
import _signal as signal  # the C module: signal imports enum (20 M instructions)
from _functools import partial  # functools.partial itself, without functools

from . import process

OUTPUT_GRACE_S = 1.0
"""After a step's process ends, how long to wait for pipes a background child still holds."""
POLL_S = 0.05
"""Without pidfds (old kernels) and off the main thread (no SIGCHLD), how often an ended
child is looked for."""
READ_SIZE = 65536


class Child:
    def __init__(self, loop, argv, env, *, cwd, stdin, sinks, done, timeout=None,
                 kill_after=5.0, watchdog=None):
        self.loop = loop
        self.sinks = sinks                 # {"stdout": Sink, "stderr": Sink}
        self.done = done
        self.timeout = timeout
        self.kill_after = kill_after
        self.watchdog = watchdog
        self.timed_out = False
        self.stopped_by = None             # the signal a stop sent first
        self.outcome = None
        self._timers = []
        self._leftovers = []
        self._finished = False
        read_out, write_out = os.pipe()
        read_err, write_err = os.pipe()
        try:
            self.spawned = process.spawn(argv, env, cwd=cwd, stdin=stdin, stdout=write_out,
                                         stderr=write_err)
        finally:
            os.close(write_out)
            os.close(write_err)
        self._open = {read_out: sinks["stdout"], read_err: sinks["stderr"]}  # fd -> sink
        loop.add_reader(read_out, partial(self._read, read_out))
        loop.add_reader(read_err, partial(self._read, read_err))
        if self.spawned.problem is not None:
            sinks["stderr"].feed(("traceexec: %s\n" % self.spawned.problem).encode())
            self.outcome = process.reap(self.spawned)
            self._maybe_done()
            return
        if watchdog is not None:
            watchdog.started(self.spawned.pid)
        if self.spawned.pidfd is not None:
            loop.add_reader(self.spawned.pidfd, self._ended)
        elif not loop.add_child(self.spawned.pid, self._check):  # no pidfd: SIGCHLD
            self._poll()
        if timeout is not None:
            self._timers.append(loop.call_later(timeout, self._expire))

    @property
    def pid(self):
        return self.spawned.pid

    @property
    def running(self) -> bool:
        return self.outcome is None and self.spawned.problem is None

    # -- events from the loop

    def _read(self, fd):
        try:
            data = os.read(fd, READ_SIZE)
        except OSError:
            data = b""
        if data:
            self._open[fd].feed(data)
        else:
            self._close_pipe(fd)
            if not self._open:  # the other pipe's end still to come: not done yet
                self._maybe_done()

    def _close_pipe(self, fd):
        sink = self._open.pop(fd, None)
        if sink is None:
            return
        self.loop.remove_reader(fd)
        os.close(fd)
        sink.flush()

    def _poll(self):
        if self.outcome is None:
            self.outcome = process.reap(self.spawned, block=False, timed_out=self.timed_out,
                                        timeout=self.timeout)
            if self.outcome is None:
                self._timers.append(self.loop.call_later(POLL_S, self._poll))
                return
            self._after_end()

    def _check(self):
        """A child ended (SIGCHLD): this one?"""
        if self.outcome is None:
            self.outcome = process.reap(self.spawned, block=False, timed_out=self.timed_out,
                                        timeout=self.timeout)
            if self.outcome is not None:
                self.loop.remove_child(self.spawned.pid)
                self._after_end()

    def _ended(self):
        self.loop.remove_reader(self.spawned.pidfd)
        self.outcome = process.reap(self.spawned, timed_out=self.timed_out,
                                    timeout=self.timeout)
        self._after_end()

    def _after_end(self):
        if self.watchdog is not None:
            self.watchdog.ended(self.spawned.pid)
        if self.timed_out or self.stopped_by is not None:
            # Whatever the command left in its session or tree gets the grace period too.
            self._timers.append(self.loop.call_later(self.kill_after, self._kill_leftovers))
        if self._open:
            self._timers.append(self.loop.call_later(OUTPUT_GRACE_S, self._let_go))
        self._maybe_done()

    def _let_go(self):
        for fd in list(self._open):
            self._close_pipe(fd)
        self._maybe_done()

    def _expire(self):
        if self.running:
            self.timed_out = True
            self.stop(signal.SIGTERM)

    # -- control

    def stop(self, number=signal.SIGTERM):
        """Signal the command's session and tree; SIGKILL what is left after ``kill_after``."""
        if not self.running:
            return
        first = self.stopped_by is None
        if first:
            self.stopped_by = number
        self._leftovers.extend(process.signal_session(self.spawned.pid, number))
        if first:
            self._timers.append(self.loop.call_later(self.kill_after, self._kill_leftovers))

    def _kill_leftovers(self):
        try:
            os.killpg(self.spawned.pid, signal.SIGKILL)  # the command, or what it left
        except OSError:
            pass
        process.kill_processes(self._leftovers)

    def _maybe_done(self):
        if self._finished or self.outcome is None or self._open:
            return
        self._finished = True
        if not (self.timed_out or self.stopped_by is not None):
            for timer in self._timers:
                timer.cancel()
        # Let go of the callback: it holds what holds this Child (the step's task), and a
        # cycle per step would be left to the collector's full passes (0.16 ms a step at
        # 10,000 steps, growing with the steps running at once).
        done, self.done = self.done, None
        done(self)
