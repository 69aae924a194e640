"""An ``sbatch`` or ``srun`` command line, split the way Slurm reads it.

Both stop reading options at the first word that is not one (getopt's ``+``):
``split("sbatch", ["-p", "debug", "job.sh", "-v"])`` gives the options
``["-p", "debug"]`` and the operands ``["job.sh", "-v"]`` (the script and its
arguments; for srun, the command and its arguments).  Option tables: sbatch(1)
and srun(1) of Slurm 22.05.
"""

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
    or command and its arguments), ``names`` (every long option name seen);
    ``complete`` is False when the last option lacks its value (Slurm says so)."""

    def __init__(self, kind, options, operands, complete=True):
        self.kind = kind
        self.options = options
        self.operands = list(operands)
        self.complete = complete  # False: the last option lacks its value
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
        return self.complete and not self.names & NOT_A_JOB


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
                        options.append((name, None, words))
                        return SlurmLine(kind, options, [], complete=False)
                    i += 1
                    value = args[i]
                    words.append(value)
            options.append((name, value, words))
            i += 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            group, start, j = [], i, 1  # -lp debug: every letter an option
            while j < len(arg):
                letter = arg[j]
                value = None
                if letter in SHORT_VALUED[kind]:
                    value = arg[j + 1:]
                    if not value:
                        if i + 1 >= len(args):
                            group.append([_short_name(letter), None, args[start:]])
                            options += [tuple(option) for option in group]
                            return SlurmLine(kind, options, [], complete=False)
                        i += 1
                        value = args[i]
                group.append([_short_name(letter), value, []])
                if value is not None or (letter in "IK" and kind == "srun"):
                    break  # the rest of the word is the value (srun's -I5, -K1: optional)
                j += 1
            group[-1][2] = args[start:i + 1]  # the words go with the group's last option
            options += [tuple(option) for option in group]
            i += 1
            continue
        break
    return SlurmLine(kind, options, args[i:])
