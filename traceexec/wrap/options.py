"""The wrapper's command line: ``traceexec [OPTIONS] -- CMD`` and ``-c STRING``.

Parsed by hand, because argparse costs several milliseconds of imports on a
path that runs once per Makefile recipe line.
"""

import os

from . import supervise


class Options:
    """What the wrapper was asked to do (filled in by the command line)."""

    def __init__(self):
        self.argv = []            # the command, or [shell, "-c", STRING, ...]
        self.shell_string = None  # the -c STRING, when given
        self.name = None
        self.attributes = {}
        self.timeout = None
        self.kill_after = supervise.DEFAULT_KILL_AFTER
        self.timeout_signal = 15  # SIGTERM
        self.preserve_status = False
        self.foreground = False
        self.assignments = {}     # NAME=VALUE before the command, as env(1) takes them
        self.chdir = None
        self.report = False
        self.print_traceparent = False
        self.make = False
        self.tty = False
        self.verbose = False
        self.wait = None
        self.redact = True
        self.redact_patterns = []
        self.export_flags = {}    # endpoint, headers, insecure, export_timeout, service, keep_local
        self.processes = None     # --processes: "fold" (huge trees summarised) or "all"
        self.processes_only = False  # --processes-only: no span of our own (a DAG step's)
        self.lines_only = False      # --lines-only: likewise, with --lines
        self.make_shell = None    # a recipe line of --make: the Makefile's SHELL (traceexec/make)
        self.stderr_tail = 0      # --stderr-tail N: relay stderr, keep N lines for the span
        self.lines = False        # --lines: a span per command of a bash script


_VALUED = {"--name", "--attr", "--service", "--timeout", "--kill-after", "--endpoint",
           "--header", "--export-timeout", "--redact", "--shell", "--signal", "--chdir",
           "-c", "-s", "-k", "-C", "--client-certificate", "--client-key", "--stderr-tail"}
_FLAGS = {"--tty", "--verbose", "-v", "--insecure", "--keep-local", "--wait", "--no-wait",
          "--no-redact", "--help", "-h", "--version", "--preserve-status", "--foreground",
          "--report", "--print-traceparent", "--make", "--processes",
          "--processes-only", "--lines", "--lines-only"}
_SHORT = {"-s": "--signal", "-k": "--kill-after", "-C": "--chdir"}
_SHELL_VALUED = {"-o", "+o", "-O", "+O"}


def _usage(message: str):
    """``errors.UsageError(message)``: ``errors`` is loaded for a command line that is
    wrong, not by every one."""
    from ..errors import UsageError
    return UsageError(message)


def _key_value(text: str, option: str) -> tuple:
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise _usage("%s wants KEY=VALUE" % option)
    return key, value


def _is_shell_flag(arg: str) -> bool:
    return len(arg) > 1 and arg[0] in "-+" and arg[1:].isalpha()


def _shell_flags(args: list, i: int) -> int:
    """Where ``-c`` starts if ``args[i:]`` are shell options (``-eu -o pipefail -c``), else -1."""
    while i < len(args):
        arg = args[i]
        if arg == "-c":
            return i
        if arg in _SHELL_VALUED:
            i += 2
        elif _is_shell_flag(arg):
            i += 1
        else:
            return -1
    return -1


def _is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq and name)


def parse_wrapper(args: list):
    """Options for the wrapper form; raises UsageError."""
    from ..delivery import config
    opts = Options()
    shell = supervise.SHELL
    shell_flags = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            _command(opts, args[i + 1:])
            break
        if not arg.startswith("-") or arg == "-":
            if arg.startswith("+") and (end := _shell_flags(args, i)) > 0:
                shell_flags, i = args[i:end], end
                continue
            _command(opts, args[i:])
            break
        option, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        option = _SHORT.get(option, option)
        if option in ("--processes", "--processes-only"):
            if eq and value != "all":
                raise _usage("%s=%s: the only value is all" % (option, value))
            opts.processes = "all" if eq else "fold"
            opts.processes_only = option == "--processes-only"
        elif option in _VALUED:
            if not eq:
                if i + 1 >= len(args):
                    raise _usage("%s needs a value" % option)
                if option == "--name" and args[i + 1] in _VALUED | _FLAGS | {"--"}:
                    # make runs $(shell ...) with .SHELLFLAGS while $@ is empty:
                    # "--name -c STRING" means no name, not a span named "-c".
                    i += 1
                    continue
                i += 1
                value = args[i]
            if option == "-c":
                if shell_flags and shell == supervise.SHELL and "MAKEFLAGS" in os.environ:
                    from ..make.recipe import check_command_line_form
                    check_command_line_form(shell_flags, os.environ)
                opts.shell_string = value
                opts.argv = [shell] + shell_flags + ["-c", value] + args[i + 1:]
                break
            if option == "--shell":
                shell = value
                end = _shell_flags_after_shell(args, i + 1)
                if end > 0:  # --shell=bash -eu -o pipefail -c: the shell's own options
                    shell_flags, i = args[i + 1:end], end
                    continue
            if option == "--name":
                opts.name = value
            elif option == "--attr":
                from ..delivery.span_reading import parse_attribute
                key, text = _key_value(value, option)
                opts.attributes[key] = parse_attribute(text)
            elif option == "--service":
                opts.export_flags["service"] = value
            elif option == "--timeout":
                from .timeout import parse_timeout
                opts.timeout = parse_timeout(value, option)
            elif option == "--kill-after":
                from .timeout import parse_timeout
                opts.kill_after = parse_timeout(value, option) or 0.0
            elif option == "--export-timeout":
                opts.export_flags["export_timeout"] = config.parse_duration(value, option)
            elif option == "--signal":
                from .signal_names import signal_number
                try:
                    opts.timeout_signal = signal_number(value)
                except ValueError:
                    raise _usage("--signal: unknown signal %r" % value) from None
            elif option == "--chdir":
                opts.chdir = value
            elif option == "--stderr-tail":
                if not value.isdigit() or not 1 <= int(value) <= 200:
                    raise _usage("--stderr-tail: %r is not a number of lines from 1 to 200"
                                     % value)
                opts.stderr_tail = int(value)
            elif option == "--endpoint":
                config.endpoint_protocol(value, "--endpoint")  # checked now: exit 2
                opts.export_flags["endpoint"] = value
            elif option in ("--client-certificate", "--client-key"):
                opts.export_flags[option[2:].replace("-", "_")] = value
            elif option == "--header":
                key, text = _key_value(value, option)
                opts.export_flags.setdefault("headers", {})[key] = text
            elif option == "--redact":
                try:
                    import re
                    re.compile(value)
                except re.error as error:
                    raise _usage("--redact: bad pattern: %s" % error) from None
                opts.redact_patterns.append(value)
        elif option in _FLAGS and not eq:
            if option in ("--help", "-h"):
                return "help"
            if option == "--version":
                return "version"
            if option in ("--verbose", "-v"):
                opts.verbose = True
            elif option in _FLAG_FIELDS:
                setattr(opts, _FLAG_FIELDS[option], True)
                opts.lines_only = opts.lines_only or option == "--lines-only"
            elif option in ("--insecure", "--keep-local"):
                opts.export_flags[option[2:].replace("-", "_")] = True
            elif option in ("--wait", "--no-wait"):
                opts.wait = option == "--wait"
            elif option == "--no-redact":
                opts.redact = False
        elif (end := _shell_flags(args, i)) > 0:  # sh options before -c, as make passes them
            shell_flags, i = args[i:end], end
            continue
        else:
            raise _usage("unknown option %s (see traceexec --help)" % option)
        i += 1
    if not opts.argv:
        raise _usage("no command given: traceexec [OPTIONS] -- CMD [ARGS...]")
    return opts


_FLAG_FIELDS = {"--tty": "tty", "--preserve-status": "preserve_status",
                "--foreground": "foreground", "--report": "report",
                "--print-traceparent": "print_traceparent", "--make": "make",
                "--lines": "lines", "--lines-only": "lines"}


def _shell_flags_after_shell(args: list, i: int) -> int:
    """After ``--shell PATH``, every argument up to ``-c`` is the shell's (``-1``: none)."""
    if i < len(args) and args[i] == "-c":
        return -1
    end = i
    while end < len(args) and args[end] != "-c":
        if args[end] in ("--",) or not args[end][:1] in "-+":
            return -1
        end += 1
    return end if end < len(args) and end > i else -1


def _command(opts: Options, words: list) -> None:
    """The command, after env(1)'s NAME=VALUE words."""
    i = 0
    while i < len(words) and _is_assignment(words[i]):
        name, _, value = words[i].partition("=")
        opts.assignments[name] = value
        i += 1
    opts.argv = words[i:]
