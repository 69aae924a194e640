"""The spool limit, in spans: counting what waits (from file names), and dropping
the oldest, loudly, when a destination holds more than its limit."""
import os

from . import frames, marks, spool


def spool_limit(environ=None) -> int:
    """TRACEEXEC_SPOOL_LIMIT in spans, else the default; a bad value means the default."""
    environ = os.environ if environ is None else environ
    try:
        value = int(environ.get(spool.TRACEEXEC_SPOOL_LIMIT, "") or spool.DEFAULT_LIMIT_SPANS)
    except ValueError:
        return spool.DEFAULT_LIMIT_SPANS
    return value if value > 0 else spool.DEFAULT_LIMIT_SPANS


def _counted(path: str) -> tuple:
    """(path, spans) of a pending file, naming it by its count the first time (lock held)."""
    count = spool.counted_spans(path)
    if count is not None:
        return path, count
    count = spool.count_file(path)
    target = "%s-n%d%s" % (path[:-len(spool.SUFFIX)], count, spool.SUFFIX)
    try:
        os.rename(path, target)
    except OSError:
        return path, count
    return target, count


def count_spans(paths) -> int:
    return sum(spool.count_file(p) for p in paths)


def take_dropped(directory: str) -> int:
    """Spans dropped for the spool limit since the last call (the count is reset)."""
    path = os.path.join(directory, "dropped")
    count = marks.read_number(path)
    marks.unlink(path)
    return count


def enforce_limit(directory: str, limit: int, log=None) -> int:
    """Drop the oldest spans until the spool holds at most ``limit``; spans dropped.

    The caller holds the destination's lock.  Counts come from the files'
    names, so this reads only files it has not counted before.  Dropping is
    loud: a log line, the ``dropped`` count for ``flush``, and the ``full``
    mark that makes every wrapper run print one warning line.
    """
    counted = [_counted(p) for p in spool.pending(directory)]
    total = sum(n for _, n in counted)
    full_mark = os.path.join(directory, spool.FULL)
    if total <= limit:
        return 0  # ``full`` stays until a drain empties the spool
    excess, dropped, files = total - limit, 0, 0
    for path, count in counted:
        if excess <= 0:
            break
        if count <= excess:
            marks.unlink(path)
            dropped, excess, files = dropped + count, excess - count, files + 1
        else:
            dropped += _skip_first(path, excess)
            excess = 0
    marks.write_small(os.path.join(directory, "dropped"),
                 str(marks.read_number(os.path.join(directory, "dropped")) + dropped).encode())
    marks.write_small(full_mark, str(limit).encode())
    if log is not None:
        log("warning: spool %s holds %d spans, over its limit of %d: dropped the %d oldest "
            "(%d files); raise TRACEEXEC_SPOOL_LIMIT or bring the collector back"
            % (os.path.basename(directory), total, limit, dropped, files))
    return dropped


def _skip_first(path: str, count: int) -> int:
    """Mark the first ``count`` frames of a file as gone; how many were."""
    try:
        found, _ = frames.scan(spool.read_bytes(path))
    except OSError:
        return 0
    count = min(count, len(found))
    if count:
        marks.mark_done(path, found[count - 1][0], len(found) - count)
    return count
