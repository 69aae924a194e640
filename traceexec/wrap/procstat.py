"""A process as /proc shows it: the fields of ``/proc/PID/stat`` (its state, its start),
the signal masks of ``/proc/PID/status``.

Apart from ``signals`` (which finds these names too): read for a process tree to kill,
a stopped command, the signal sentinel, a DAG's runs; not by a command that simply ends.
"""

from .signals import _status_text


def status_masks(pid: int) -> dict:
    """The ``SigPnd``/``ShdPnd``/``SigIgn``... masks of ``pid`` from /proc, its Name and State."""
    text = _status_text(pid)
    if text is None:
        return {}
    masks = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key.startswith("Sig") or key.startswith("Shd") or key in ("PPid", "Name", "State"):
            masks[key] = value
    return masks


def stat_fields(pid: int):
    """The fields of ``/proc/PID/stat`` after the command name (the state first);
    ``None`` when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().rpartition(b")")[2].split()
    except OSError:
        return None


def process_start(pid: int):
    """When ``pid`` started, in clock ticks after boot: with the pid, it names one process
    for good.  ``None`` when there is no such process."""
    fields = stat_fields(pid) if pid else None
    return fields[19].decode() if fields and len(fields) > 19 else None
