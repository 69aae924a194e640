"""Small file helpers shared by the spool, the store and the DAG driver.

Atomic replacement, the write-everything loop, 0700 directories that must be
this user's and private, and the append log that any number of processes
write to under flock.  Files are opened without following symbolic links.  Standard
library only: this module is on the wrapper's path.
"""

import os


def check_private(path: str) -> None:
    """Refuse ``path`` unless it is a directory of this user that no one else may
    write in; one writable by others but ours is made private (0700).

    A symbolic link to it counts as its owner's: a link someone else planted is refused.
    Raises ``errors.UnsafeDirectory`` (an OSError).
    """
    uid = os.geteuid()
    link = os.lstat(path)
    if link.st_uid != uid and (link.st_mode & 0o170000) == 0o120000:
        raise _unsafe("%s is a link owned by uid %d, not by this user (uid %d)"
                              % (path, link.st_uid, uid))
    stat = os.stat(path)
    if stat.st_uid != uid:
        raise _unsafe("%s is owned by uid %d, not by this user (uid %d)"
                              % (path, stat.st_uid, uid))
    if stat.st_mode & 0o022:
        os.chmod(path, 0o700)


def _unsafe(message: str) -> OSError:
    from .errors import UnsafeDirectory
    return UnsafeDirectory(message)


def user_cache(environ, name: str) -> str:
    """``$XDG_CACHE_HOME/traceexec/NAME`` (default ``~/.cache/traceexec/NAME``): what is
    kept between runs for speed alone (parsed DAG files, recipe lines' byte code)."""
    cache = environ.get("XDG_CACHE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(cache), "traceexec", name)


def ensure_dir(path: str) -> str:
    """Create ``path`` (and parents) as 0700 directories if missing; an existing
    ``path`` must be this user's and private (``check_private``)."""
    if os.path.isdir(path):
        check_private(path)
        return path
    parent = os.path.dirname(path)
    if parent and parent != path:
        _make_parents(parent)
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)
    except FileExistsError:
        check_private(path)
    return path


def _make_parents(path: str) -> None:
    """Missing parents as 0700 directories; existing ones are not ours to judge
    (a home may live in /tmp)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        _make_parents(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_text(fd: int, text: str) -> None:
    """Write to a standard stream that may be closed (``>&-``) or a closed pipe."""
    try:
        write_all(fd, text.encode("utf-8", "replace"))
    except OSError:
        pass


def replace_file(path: str, data: bytes) -> None:
    """Put ``data`` at ``path`` atomically: a 0600 temporary file, then a rename."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        try:
            os.unlink(tmp)  # a leftover of an earlier process with this pid, or a link
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_log(path: str, data: bytes, *, line: bool = False) -> int:
    """Append ``data`` with one write to the log at ``path``; returns the log's inode.

    Holds an exclusive flock while writing, and starts again when a reader
    renamed (claimed) the log meanwhile, so nothing is appended to a log that
    was already taken.  A write that fails part-way (ENOSPC, EFBIG past
    RLIMIT_FSIZE) is cut back off under the lock before the error is raised,
    so no torn bytes stay to glue onto the next writer's.  With ``line``
    (newline-separated logs), data goes on a fresh line even when a writer
    killed mid-write left one unfinished.
    """
    import fcntl
    for _ in range(1000):
        # read-write: a line log's last byte is read back (pread)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            stat = os.fstat(fd)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current == stat.st_ino:
                _append(fd, stat.st_size, data, line)
                return stat.st_ino
        finally:
            os.close(fd)
    raise OSError("the log %s keeps being renamed" % path)


def _append(fd: int, size: int, data: bytes, line: bool) -> None:
    if line and size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    try:
        write_all(fd, data)
    except OSError:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass
        raise


def claim_log(path: str, target: str) -> bool:
    """Rename a non-empty log to ``target`` under its lock; False when there is nothing."""
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        stat = os.fstat(fd)
        try:
            if os.stat(path).st_ino != stat.st_ino:
                return False
        except FileNotFoundError:
            return False
        if stat.st_size == 0:
            return False
        os.rename(path, target)
        return True
    finally:
        os.close(fd)
