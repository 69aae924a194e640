"""An ``sbatch`` or ``srun`` command line, split the way Slurm reads it.

Both stop reading options at the first word that is not one (getopt's ``+``):
``split("sbatch", ["-p", "debug", "job.sh", "-v"])`` gives the options
``["-p", "debug"]`` and the operands ``["job.sh", "-v"]`` (the script and its
arguments; for srun, the command and its arguments).  Option tables: sbatch(1)
and srun(1) of Slurm 22.05.
"""

from ..errors import UsageError

_COMMON_VALUED = {
    "account", "acctg-freq", "bb", "bbf", "begin", "chdir", "cluster-constraint",
    "clusters", "comment", "constraint", "container", "core-spec", "cores-per-socket",
    "cpu-freq", "cpus-per-gpu", "cpus-per-task", "deadline", "delay-boot", "dependency",
    "distribution", "error", "exclude", "export", "extra-node-info", "gid", "gpu-bind",
    "gpu-freq", "gpus", "gpus-per-node", "gpus-per-socket", "gpus-per-task", "gres",
    "gres-flags", "hint", "input", "job-name", "licenses", "mail-type", "mail-user",
    "mcs-label", "mem", "mem-bind", "mem-per-cpu", "mem-per-gpu", "mincpus", "network",
    "nodefile", "nodelist", "nodes", "ntasks", "ntasks-per-core", "ntasks-per-gpu",
    "ntasks-per-node", "ntasks-per-socket", "open-mode", "output", "partition", "power",
    "prefer", "priority", "profile", "qos", "reservation", "signal", "sockets-per-node",
    "switches", "thread-spec", "threads-per-core", "time", "time-min", "tmp", "uid",
    "wckey"}
_COMMON_FLAGS = {
    "contiguous", "exclusive", "help", "hold", "nice", "no-kill", "overcommit",
    "oversubscribe", "propagate", "quiet", "reboot", "spread-job", "test-only", "usage",
    "use-min-nodes", "verbose", "version"}
VALUED = {
    "sbatch": _COMMON_VALUED | {"array", "batch", "export-file", "kill-on-invalid-dep",
                                "wait-all-nodes", "wrap"},
    "srun": _COMMON_VALUED | {"accel-bind", "bcast-exclude", "cpu-bind", "epilog",
                              "het-group", "jobid", "mpi", "msg-timeout", "prolog",
                              "relative", "slurmd-debug", "task-epilog", "task-prolog",
                              "threads", "wait"},
}
"""Long options that take a value (``--name=VALUE`` or ``--name VALUE``)."""
FLAGS = {
    "sbatch": _COMMON_FLAGS | {"get-user-env", "ignore-pbs", "no-requeue", "parsable",
                               "requeue", "wait"},
    "srun": _COMMON_FLAGS | {"bcast", "compress", "disable-status", "exact", "immediate",
                             "kill-on-bad-exit", "label", "multi-prog", "no-allocate",
                             "overlap", "preserve-env", "pty", "quit-on-interrupt",
                             "resv-ports", "send-libs", "unbuffered", "x11"},
}
"""Long options that take none (or only an optional ``=VALUE``)."""
SHORT_VALUED = {"sbatch": set("AabcCdDeFGiJLmMnNopqStwx") | {"B"},
                "srun": set("AbBcCdDeFGiJLmMnNopqrStTWwx")}
SHORT_FLAGS = {"sbatch": set("hHkOQsvVW"), "srun": set("EhHIKlkOQsuvVXZ")}
SHORT_LONG = {
    "A": "account", "a": "array", "b": "begin", "B": "extra-node-info", "c": "cpus-per-task",
    "C": "constraint", "d": "dependency", "D": "chdir", "e": "error", "E": "preserve-env",
    "F": "nodefile", "G": "gpus", "h": "help", "H": "hold", "i": "input", "I": "immediate",
    "J": "job-name", "k": "no-kill", "K": "kill-on-bad-exit", "l": "label", "L": "licenses",
    "m": "distribution", "M": "clusters", "n": "ntasks", "N": "nodes", "o": "output",
    "O": "overcommit", "p": "partition", "q": "qos", "Q": "quiet", "r": "relative",
    "s": "oversubscribe", "S": "core-spec", "t": "time", "T": "threads", "u": "unbuffered",
    "v": "verbose", "V": "version", "w": "nodelist", "W": "wait", "x": "exclude",
    "X": "disable-status", "Z": "no-allocate"}
"""The long option each letter stands for."""
NOT_A_JOB = {"help", "usage", "version"}
"""Options after which no job is submitted: the line goes to Slurm untouched."""


class SlurmLine:
    """``options`` as ``(long name, value or None, words)``, ``operands`` (the script
    or command and its arguments), ``names`` (every long option name seen)."""

    def __init__(self, kind, options, operands):
        self.kind = kind
        self.options = options
        self.operands = list(operands)
        self.names = {name for name, _, _ in options}

    def value(self, name):
        """The last value given to option ``name``, or None."""
        found = None
        for option, value, _ in self.options:
            if option == name:
                found = value
        return found

    def words(self, leave_out=()) -> list:
        """The option words, without the options named in ``leave_out``."""
        return [word for name, _, words in self.options if name not in leave_out
                for word in words]

    def submits(self) -> bool:
        """True when the line submits a job (not --help, --usage, --version)."""
        return not self.names & NOT_A_JOB


def _long_name(kind: str, given: str) -> str:
    """The option ``given`` names, as getopt_long reads it (a unique prefix will do)."""
    every = VALUED[kind] | FLAGS[kind]
    if given in every:
        return given
    matches = sorted(name for name in every if name.startswith(given))
    if len(matches) == 1:
        return matches[0]
    return given  # unknown or ambiguous: Slurm says so itself


def _short_name(letter: str) -> str:
    return SHORT_LONG.get(letter, letter)


def split(kind: str, args: list) -> SlurmLine:
    """Read ``args`` (what follows ``sbatch`` or ``srun``)."""
    options = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            options.append(("--", None, [arg]))
            i += 1
            break
        if arg.startswith("--"):
            given, eq, value = arg[2:].partition("=")
            name = _long_name(kind, given)
            words = [arg]
            if not eq:
                value = None
                if name in VALUED[kind]:
                    if i + 1 >= len(args):
                        raise UsageError("%s: option --%s needs a value" % (kind, given))
                    i += 1
                    value = args[i]
                    words.append(value)
            options.append((name, value, words))
            i += 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            j, start = 1, i
            while j < len(arg):
                letter = arg[j]
                if letter in SHORT_VALUED[kind]:
                    value = arg[j + 1:]
                    if not value:
                        if i + 1 >= len(args):
                            raise UsageError("%s: option -%s needs a value" % (kind, letter))
                        i += 1
                        value = args[i]
                    options.append((_short_name(letter), value, args[start:i + 1]))
                    break
                options.append((_short_name(letter), None,
                                [arg] if j == len(arg) - 1 else []))
                if letter in "IK" and kind == "srun":  # optional value, attached
                    break
                j += 1
            i += 1
            continue
        break
    return SlurmLine(kind, options, args[i:])
