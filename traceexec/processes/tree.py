"""The process tree, built event by event from the tracer's stream.

A ``Process`` is one pid's life: the ``Image``s it ran (one per successful
exec; a forked process first runs a copy of its parent's program, image 0
with ``forked`` set), who started it and while running which image, how it
ended, and its CPU time when its parent's SIGCHLD said.  The root is the
traced command itself (its first image is the wrapper's own span).

Events may arrive out of family order (a vfork child's exec is reported
before its parent's vfork returns), so a process can be known before its
parent is; pids can be reused within one long build, so a pid seen again
after its exit is a new process.
"""

import os

from .stream import ChildTimes, Exec, Exit, Fork


class Image:
    """One program a process ran: from its exec (or fork) to the process's end."""

    __slots__ = ("path", "argv", "start_ns", "forked")

    def __init__(self, path, argv, start_ns, forked=False):
        self.path = path
        self.argv = argv
        self.start_ns = start_ns
        self.forked = forked

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or (self.argv[0] if self.argv else "") or "?"


class Process:
    """One pid's life; ``parent``/``parent_image`` say where it was started."""

    __slots__ = ("pid", "parent", "parent_image", "fork_ns", "images", "end_ns", "exit_code",
                 "signal", "core", "cpu_ticks", "children")

    def __init__(self, pid):
        self.pid = pid
        self.parent = None          # Process
        self.parent_image = 0       # index in parent.images when this one was started
        self.fork_ns = None
        self.images = []
        self.end_ns = None          # None: still running when the tree was read
        self.exit_code = None
        self.signal = None          # "SIGTERM", when killed
        self.core = False
        self.cpu_ticks = None       # (user, system) clock ticks, from the parent's SIGCHLD
        self.children = []

    @property
    def ended(self) -> bool:
        return self.end_ns is not None

    @property
    def failed(self) -> bool:
        return self.signal is not None or bool(self.exit_code)

    def image_at(self, index: int):
        return self.images[min(index, len(self.images) - 1)] if self.images else None


class Tree:
    """Every process seen so far; ``apply`` takes the parser's events in order."""

    def __init__(self):
        self.root = None
        self.processes = []          # in order of first appearance
        self._live = {}              # pid -> Process (the latest with that pid)
        self._threads = {}           # thread id -> process id
        self._ended = {}             # pid -> the latest process with that pid that ended
        self.root_ended = False

    def _process(self, pid: int) -> Process:
        pid = self._threads.get(pid, pid)
        proc = self._live.get(pid)
        if proc is None or proc.ended:
            proc = Process(pid)
            self._live[pid] = proc
            self.processes.append(proc)
        return proc

    def apply(self, events) -> None:
        for event in events:
            kind = type(event)
            if kind is Exec:
                proc = self._process(event.pid)
                if self.root is None:
                    self.root = proc
                proc.images.append(Image(event.path, event.argv, event.time_ns))
            elif kind is Fork:
                self._fork(event)
            elif kind is Exit:
                self._exit(event)
            elif kind is ChildTimes:  # about an ended child, maybe before its pid came back
                child = self._ended.get(event.child)
                if child is not None and child.cpu_ticks is None:
                    child.cpu_ticks = (event.user_ticks, event.system_ticks)

    def _fork(self, event: Fork) -> None:
        parent = self._process(event.pid)
        if event.thread:
            self._threads[event.child] = parent.pid
            early = self._live.get(event.child)
            if early is not None and not early.images and early.parent is None:
                del self._live[event.child]  # the thread ended before its clone returned
                self.processes.remove(early)
            return
        child = self._live.get(event.child)
        # Known already but parentless: its exec (even its exit) was reported before
        # the parent's fork returned.  With a parent: an older process with a reused pid.
        if child is None or child.parent is not None or child is self.root:
            child = Process(event.child)
            self._live[event.child] = child
            self.processes.append(child)
        child.parent = parent
        child.parent_image = max(len(parent.images) - 1, 0)
        child.fork_ns = event.time_ns
        model = parent.image_at(child.parent_image)
        if model is not None:  # it runs its parent's program until it execs
            child.images.insert(0, Image(model.path, model.argv, event.time_ns, forked=True))
            for grandchild in child.children:  # started (and reported) before this fork
                grandchild.parent_image += 1
        parent.children.append(child)

    def _exit(self, event: Exit) -> None:
        if event.pid in self._threads:
            del self._threads[event.pid]  # a thread: the process goes on
            return
        # Not known yet, or known as an older process with this pid: it ended before
        # its parent's fork returned.
        proc = self._process(event.pid)
        proc.end_ns = event.time_ns
        self._ended[event.pid] = proc
        proc.exit_code = event.code
        proc.signal = event.signal
        proc.core = event.core
        if proc is self.root:
            self.root_ended = True

    def running(self) -> list:
        """Processes not ended (yet)."""
        return [p for p in self.processes if not p.ended]
