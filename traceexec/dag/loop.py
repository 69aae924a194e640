"""The DAG driver's event loop: one thread, one epoll, a heap of timers.

Children's pidfds, their output pipes, the signal wake-up pipe and timers all
land here, so a run of 10,000 steps is one thread however wide it fans out.
Callbacks run one at a time and never block; work that must wait (a process,
an interval) registers a reader or a timer and returns.

    loop = Loop()
    loop.call_later(0.5, lambda: print("half a second"))
    loop.run(lambda: done)
"""
from __future__ import annotations

import itertools
import os
import select
import _signal as signal  # the C module: signal imports enum (20 M instructions)
import sys
import time
from _collections import deque  # collections.deque itself, without collections
from _heapq import heappop, heappush  # heapq's own, without its Python module


class Timer:
    """A callback due at ``when`` (monotonic seconds); ``cancel`` makes it a no-op."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when, callback):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self):
        self.cancelled = True
        self.callback = None  # what it would have called may hold this timer: no cycle


_NOT_WATCHED = object()


class _Readers:
    """fd -> callback, waited for with epoll directly: ``selectors`` makes a key record
    per registration and looks each ready descriptor up again, and a step registers
    three (its two pipes and its pidfd)."""

    def __init__(self):
        self._epoll = select.epoll()
        self._callbacks = {}

    def register(self, fd, callback):
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def unregister(self, fd):
        """Stop watching ``fd``; nothing when it was not watched."""
        if self._callbacks.pop(fd, _NOT_WATCHED) is _NOT_WATCHED:
            return
        try:
            self._epoll.unregister(fd)
        except OSError:  # closed meanwhile: the kernel dropped it
            pass

    def ready(self, timeout) -> list:
        """The callbacks of the descriptors ready within ``timeout`` seconds (None: no limit)."""
        callbacks = self._callbacks
        # a negative timeout would wait for ever; epoll rounds the rest up to a millisecond
        events = self._epoll.poll(-1 if timeout is None else max(timeout, 0.0),
                                  max(len(callbacks), 1))
        return [callbacks[fd] for fd, _ in events if fd in callbacks]

    def close(self):
        self._epoll.close()


class _SelectorReaders:
    """The same over ``selectors``, where there is no epoll."""

    def __init__(self):
        import selectors  # only here: where epoll is, its import is 2.4 M instructions spared
        self._selector = selectors.DefaultSelector()
        self._read = selectors.EVENT_READ

    def register(self, fd, callback):
        self._selector.register(fd, self._read, callback)

    def unregister(self, fd):
        """Stop watching ``fd``; nothing when it was not watched."""
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def ready(self, timeout) -> list:
        return [key.data for key, _ in self._selector.select(timeout)]

    def close(self):
        self._selector.close()


class Loop:
    """``add_reader(fd, callback)``: ``callback()`` each time ``fd`` is readable (or at
    its end); ``remove_reader(fd)`` stops that (nothing when ``fd`` was not watched).
    Both are the selector's own methods: a step registers three descriptors and drops
    them again, and a call less each is worth it."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.selector = _Readers() if hasattr(select, "epoll") else _SelectorReaders()
        self.add_reader = self.selector.register
        self.remove_reader = self.selector.unregister
        self._timers = []
        self._order = itertools.count()
        self._soon = deque()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.selector.register(self._wake_read, None)
        self._previous_wakeup = None
        self._signals = {}
        self._children = {}  # pid -> callback, for children without a pidfd (SIGCHLD)
        self._child_ended = False  # a SIGCHLD came: look for ended children after I/O

    # -- registration

    def call_later(self, delay, callback) -> Timer:
        timer = Timer(self.clock() + max(0.0, delay), callback)
        heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    def call_soon(self, callback, *args):
        """Run ``callback(*args)`` at the next turn (safe from signal handlers: the signal's
        own byte on the wake-up descriptor ends the wait)."""
        self._soon.append((callback, args))

    def handle_signals(self, numbers, callback):
        """Deliver each of ``numbers`` as ``callback(number)`` at the next turn.

        Python runs signal handlers on the main thread only; elsewhere this does nothing.
        """
        for number in numbers:
            self._install(number, lambda got, frame: self.call_soon(callback, got))

    def _install(self, number, handler) -> bool:
        """Handle signal ``number``, its byte waking the loop; False off the main thread."""
        # only threading starts the driver's other threads: without it, this is the main one
        threading = sys.modules.get("threading")
        if threading is not None and threading.current_thread() is not threading.main_thread():
            return False
        if self._previous_wakeup is None:
            self._previous_wakeup = signal.set_wakeup_fd(self._wake_write,
                                                         warn_on_full_buffer=False)
        previous = signal.signal(number, handler)
        self._signals.setdefault(number, previous)
        return True

    def add_child(self, pid, callback) -> bool:
        """``callback()`` at the next turn after any child ends (SIGCHLD), until
        ``remove_child(pid)``: how a child without a pidfd is waited for, at once and
        without polling.  False where signals cannot be handled (not the main thread).

        The callbacks run after that turn's I/O: a child's pipes are at their end before
        its SIGCHLD is sent, so its output is drained by then (no grace period to wait
        for it)."""
        if signal.SIGCHLD not in self._signals:
            if not self._install(signal.SIGCHLD, self._on_sigchld):
                return False
            self._child_ended = True  # one that ended before the handler was there
        self._children[pid] = callback
        return True

    def remove_child(self, pid):
        self._children.pop(pid, None)

    def _on_sigchld(self, number, frame):
        self._child_ended = True  # its byte on the wake-up descriptor ends any wait

    def _children_ended(self):
        """Each ended child's callback: found one at a time by ``waitid(WNOWAIT)``, which
        leaves it to the callback to reap; a child not registered here (another part's)
        ends the search, and then every registered callback is asked."""
        while self._children:
            try:
                found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if found is None:
                return
            callback = self._children.get(found.si_pid)
            if callback is None:
                break
            callback()
            if found.si_pid in self._children:  # not reaped after all: ask them all
                break
        for callback in list(self._children.values()):
            callback()

    # -- running

    def run_once(self, max_wait=None):
        """Run due timers and queued callbacks, then wait for I/O at most ``max_wait``;
        not at all when one of them ran: it may have done the caller's last piece of work
        (a step's clean-up kill), after which nothing would come to end the wait."""
        # Children that ended by now (their SIGCHLD handled) are looked for after this
        # turn's wait, which their pipes' ends are among; a SIGCHLD handled from here on
        # is the next turn's (its byte on the wake-up descriptor ends that wait).
        children_ended, self._child_ended = self._child_ended, False
        if self._run_due() or self._soon or children_ended:
            wait = 0.0
        else:
            wait = max_wait
            if self._timers:
                until_next = max(0.0, self._timers[0][0] - self.clock())
                wait = until_next if wait is None else min(wait, until_next)
        for callback in self.selector.ready(wait):
            if callback is None:  # the wake-up bytes of signals: drop them
                try:  # a short read took them all (no EAGAIN raised and caught a turn)
                    while len(os.read(self._wake_read, 4096)) == 4096:
                        pass
                except OSError:
                    pass
            else:
                callback()
        if children_ended:
            self._children_ended()
        self._run_due()

    def _run_due(self) -> bool:
        """Run the queued callbacks and the due timers; whether any ran."""
        ran = bool(self._soon)
        while self._soon:
            callback, args = self._soon.popleft()
            callback(*args)
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heappop(self._timers)
            if not timer.cancelled:
                ran = True
                callback, timer.callback = timer.callback, None
                callback()
            while self._soon:
                callback, args = self._soon.popleft()
                callback(*args)
        return ran

    def run(self, is_done, max_wait=None):
        """Turn until ``is_done()``; ``max_wait`` bounds each wait (progress redraws)."""
        while not is_done():
            self.run_once(max_wait)

    def close(self):
        for number, handler in self._signals.items():
            signal.signal(number, handler)
        self._signals = {}
        if self._previous_wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            self._previous_wakeup = None
        self.selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
