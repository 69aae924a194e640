"""The spool's marks, each written in place so that no temporary file is ever left:
the exporter's lock, the ``backoff`` mark, small counters, and the ``SKIP``
header that marks the part of a spool file already sent (or dropped).
"""
import os
import time

from . import frames, spool
from ..files import ensure_dir

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0


def write_small(path: str, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_number(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return int(handle.read().decode().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Lock:
    """The destination's exporter lock (flock; released when the process dies)."""

    def __init__(self, directory: str):
        self.fd = os.open(os.path.join(ensure_dir(directory), "lock"),
                          os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)

    def acquire(self, timeout_s: float = 0.0) -> bool:
        import fcntl
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)

    def note_owner(self) -> None:
        """Write this process's id into the lock file (who is exporting, for people and tests)."""
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, b"%d\n" % os.getpid(), 0)
        except OSError:
            pass

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_backoff(directory: str, now=None, at_least=None) -> float:
    """Push back the next exporter start: 1 s, doubling per failure, at most 60 s,
    and no sooner than ``at_least`` seconds (a collector's Retry-After)."""
    now = time.time() if now is None else now
    previous = spool.backoff_delay(directory)
    delay = BACKOFF_FIRST_S if previous <= 0 else min(previous * 2, BACKOFF_MAX_S)
    if at_least is not None:
        delay = max(delay, at_least)
    write_small(os.path.join(directory, "backoff"), ("%.3f %.3f" % (now + delay, delay)).encode())
    return delay


def clear_backoff(directory: str) -> None:
    unlink(os.path.join(directory, "backoff"))


def mark_skip(path: str, end: int) -> None:
    """Mark a file's first ``end`` bytes as done with one 12-byte write in place."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return
    try:
        os.pwrite(fd, frames.skip_header(end), 0)
    finally:
        os.close(fd)


def mark_done(path: str, end: int, left: int) -> str:
    """Mark a file's first ``end`` bytes as done, in place; name it by what is left."""
    mark_skip(path, end)
    stem = path[:-len(spool.SUFFIX)]
    if spool.counted_spans(path) is not None:
        stem = stem.rpartition("-n")[0]
    target = "%s-n%d%s" % (stem, left, spool.SUFFIX)
    try:
        os.rename(path, target)
    except OSError:
        return path
    return target
