"""The wrapper's command line: options, errors, help, and the import budget."""
import subprocess
import sys

import pytest

from conftest import TRACEEXEC, run_traceexec
from traceexec.wrap import options
from traceexec.errors import UsageError


def test_options_and_command():
    opts = options.parse_wrapper(["--name", "n", "--attr", "a=1", "--attr=b=true", "--attr", "c=x",
                              "--attr", "d=2.5", "--timeout", "90s", "--kill-after=1s", "-v",
                              "--endpoint", "c:4317", "--header", "k=v=w", "--", "ls", "-l"])
    assert opts.argv == ["ls", "-l"] and opts.name == "n" and opts.verbose
    assert opts.attributes == {"a": 1, "b": True, "c": "x", "d": 2.5}
    assert (opts.timeout, opts.kill_after) == (90.0, 1.0)
    assert opts.export_flags == {"endpoint": "c:4317", "headers": {"k": "v=w"}}


def test_dash_c_runs_the_string_with_sh_and_names_the_span_after_it():
    from traceexec.wrap.command import default_name
    opts = options.parse_wrapper(["--name", "all", "-c", "cc -o x x.c"])
    assert opts.argv == ["/bin/sh", "-c", "cc -o x x.c"] and default_name(opts) == "all"
    opts = options.parse_wrapper(["-c", "FOO=1 /usr/bin/make all"])
    assert default_name(opts) == "make"


def test_empty_make_target_name_does_not_eat_dash_c():
    # $(shell ...) runs through SHELL with .SHELLFLAGS while $@ is still empty
    opts = options.parse_wrapper(["--name", "-c", "echo abc"])
    assert opts.argv == ["/bin/sh", "-c", "echo abc"] and opts.name is None


def test_shell_option_for_dash_c():
    opts = options.parse_wrapper(["--shell=/bin/bash", "--name", "t", "-c", "echo ${X^^}"])
    assert opts.argv == ["/bin/bash", "-c", "echo ${X^^}"]


def test_command_without_double_dash():
    assert options.parse_wrapper(["make", "-j4"]).argv == ["make", "-j4"]


@pytest.mark.parametrize("args,message", [
    ([], "no command given"),
    (["--bogus", "--", "true"], "unknown option --bogus"),
    (["--timeout", "soon", "--", "true"], "bad --timeout"),
    (["--attr", "novalue", "--", "true"], "--attr wants KEY=VALUE"),
    (["--name"], "--name needs a value"),
    (["--endpoint", "nohost", "--", "true"], "invalid endpoint"),
])
def test_usage_errors(args, message):
    with pytest.raises(UsageError if "endpoint" not in message and "timeout" not in message
                       else Exception) as info:
        options.parse_wrapper(args)
    assert message in str(info.value)


def test_usage_error_is_one_line_exit_2_no_traceback(env):
    result = run_traceexec(["--timeout", "soon", "--", "true"], env)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("traceexec: bad --timeout")
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr


def test_help_and_version(env):
    result = run_traceexec(["--help"], env)
    assert result.returncode == 0
    for option in ("--name", "--attr", "--service", "--timeout", "--kill-after", "--tty",
                   "--verbose", "--endpoint", "--header", "--insecure", "--export-timeout", "-c"):
        assert option in result.stdout.decode()
    assert run_traceexec(["--version"], env).stdout.decode().startswith("traceexec ")


def test_python_dash_m_is_the_console_script(env):
    import shutil
    script = shutil.which("traceexec", path=env["PATH"])
    assert script, "the console script is installed"
    result = subprocess.run([script, "--version"], capture_output=True, env=env)
    assert result.stdout == run_traceexec(["--version"], env).stdout


HEAVY = ("opentelemetry", "grpc", "google.protobuf", "psutil", "pexpect", "yaml", "dotenv",
         "argparse", "subprocess", "json", "re", "zlib", "__future__",
         "h2", "hpack", "hyperframe", "http", "ssl", "urllib",  # the exporter's, not the wrapper's
         "_ctypes")  # the command starts with posix_spawn: no prctl, so no _ctypes (0.6 ms)


def _imports(args, env):
    # -S: no site, so nothing an editable install's hook loads hides what we load
    # (the package is found through PYTHONPATH)
    result = subprocess.run([sys.executable, "-S", "-X", "importtime"] + args,
                            capture_output=True, env=env)
    return {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_wrapper_path_imports_no_heavy_module(env):
    # Whatever the interpreter loads by itself (site, .pth files) is not ours to count.
    ours = _imports(TRACEEXEC[1:] + ["--", "true"], env) - _imports(["-c", "pass"], env)
    assert "traceexec.wrap.supervise" in ours
    assert not {m for m in ours if m.split(".")[0] in HEAVY}, sorted(ours)
    assert not {m for m in ours if m.startswith("traceexec.lines")}  # only for --lines
    # the options are parsed without the help text (6 kB), which only --help loads
    assert "traceexec.wrap.help" not in ours and not hasattr(options, "HELP")


RARE = ("traceexec.store",           # the store's readers: the wrapper only appends (incoming)
        "traceexec.wrap.sentinel",   # a command that outlives 10 ms, or a signal before that
        "traceexec.wrap.sampling",   # only when OTEL_TRACES_SAMPLER is set
        "traceexec.subcommand",      # subcommands' dispatch, parsers and epilogs
        "traceexec.subcommand_errors",  # classes cost about 90,000 instructions each
        "traceexec.error_types")  # likewise: the classes of errors, made when one is raised
"""Modules that ``traceexec -- true`` has no use for (issue 26: every module loaded
costs its byte code's unmarshalling and its body's run)."""


def test_a_short_command_loads_no_module_of_rare_cases(env):
    ours = _imports(TRACEEXEC[1:] + ["--", "true"], env)
    rare = {m for m in ours if m.startswith(RARE)}
    assert not rare, sorted(rare)
    assert "traceexec.delivery.incoming" in ours  # the span went to the local store


# --- the conventions of env(1), timeout(1) and time(1) -------------------------------------

@pytest.mark.parametrize("args,argv,assignments,extra", [
    (["--", "A=1", "B=two words", "env"], ["env"], {"A": "1", "B": "two words"}, {}),
    (["A=1", "cmd", "x=y"], ["cmd", "x=y"], {"A": "1"}, {}),
    (["-C", "/tmp", "--", "ls"], ["ls"], {}, {"chdir": "/tmp"}),
    (["--chdir=/tmp", "ls"], ["ls"], {}, {"chdir": "/tmp"}),
    (["-s", "INT", "-k", "2", "--timeout", "1d", "--", "x"], ["x"], {},
     {"timeout_signal": 2, "kill_after": 2.0, "timeout": 86400.0}),
    (["--signal=SIGHUP", "--preserve-status", "--foreground", "--", "x"], ["x"], {},
     {"timeout_signal": 1, "preserve_status": True, "foreground": True}),
    (["--timeout", "0", "--kill-after", "0", "--", "x"], ["x"], {},
     {"timeout": None, "kill_after": 0.0}),
    (["--report", "--print-traceparent", "--make", "--", "make"], ["make"], {},
     {"report": True, "print_traceparent": True, "make": True}),
    (["--shell=bash", "-eu", "-o", "pipefail", "-c", "false | cat"],
     ["bash", "-eu", "-o", "pipefail", "-c", "false | cat"], {}, {}),
    (["--name=t", "-eu", "+x", "-o", "pipefail", "-c", "s"],
     ["/bin/sh", "-eu", "+x", "-o", "pipefail", "-c", "s"], {}, {"name": "t"}),
    (["--shell", "bash", "--posix", "-c", "s"], ["bash", "--posix", "-c", "s"], {}, {}),
])
def test_convention_table(args, argv, assignments, extra):
    opts = options.parse_wrapper(args)
    assert opts.argv == argv and opts.assignments == assignments
    for field, value in extra.items():
        assert getattr(opts, field) == value, field


@pytest.mark.parametrize("args,message", [
    (["--signal", "NOPE", "--", "true"], "--signal: unknown signal"),
    (["--timeout", "2x", "--", "true"], "bad --timeout"),
    (["--timeout", "-1d", "--", "true"], "bad --timeout"),
    (["-eu", "true"], "unknown option -eu"),
])
def test_more_usage_errors(args, message):
    with pytest.raises(Exception) as info:
        options.parse_wrapper(args)
    assert message in str(info.value)


def test_assignments_and_chdir_as_env_does(env, tmp_path):
    (tmp_path / "here").mkdir()
    script = 'echo "$A|$B|$(pwd)"'
    bare = subprocess.run(["env", "-C", str(tmp_path / "here"), "A=1", "B=x y", "sh", "-c",
                           script], capture_output=True, env=env)
    ours = run_traceexec(["-C", str(tmp_path / "here"), "--", "A=1", "B=x y", "sh", "-c", script],
                         env)
    assert bare.stdout == b"1|x y|%s\n" % str(tmp_path / "here").encode()
    assert (ours.returncode, ours.stdout) == (0, bare.stdout)
    missing = run_traceexec(["-C", str(tmp_path / "nope"), "--", "true"], env)
    assert missing.returncode == 2 and missing.stderr.count(b"\n") == 1
    assert b"-C" in missing.stderr and b"Traceback" not in missing.stderr


def test_report_and_print_traceparent(env, home):
    result = run_traceexec(["--report", "--print-traceparent", "--", "sh", "-c",
                            "echo \"$TRACEPARENT\"; exit 3"], env)
    first, report = result.stderr.decode().splitlines()
    assert first == "TRACEPARENT=" + result.stdout.decode().strip()
    trace_id = first.split("-")[1]
    assert report.startswith("traceexec: report: ") and report.endswith("exit 3, trace " + trace_id)
    for word in ("s elapsed", "s user", "s system", "MiB max RSS"):
        assert word in report
    assert result.returncode == 3


def test_help_subcommand_and_subcommand_help_texts(env):
    assert run_traceexec(["help"], env).stdout == run_traceexec(["--help"], env).stdout
    for name in ("run", "validate", "graph", "show", "serve", "flush"):
        result = run_traceexec(["help", name], env)
        text = result.stdout.decode()
        assert result.returncode == 0 and "usage: traceexec %s" % name in text
        assert "examples:" in text and "exit status:" in text, name
        assert text == run_traceexec([name, "--help"], env).stdout.decode()
    assert "TRACEEXEC_HOME" in run_traceexec(["help", "flush"], env).stdout.decode()
    assert "--make" in run_traceexec(["help", "make"], env).stdout.decode()
    wrong = run_traceexec(["help", "nothing"], env)
    assert wrong.returncode == 2 and wrong.stderr.count(b"\n") == 1
    for text in ("TRACEEXEC_HOME", "exit status", "--kill-after", "--chdir", "--report"):
        assert text in run_traceexec(["--help"], env).stdout.decode()


def test_lines_flag():
    opts = options.parse_wrapper(["--lines", "--processes", "--", "./build.sh", "-j2"])
    assert opts.lines and opts.processes == "fold" and opts.argv == ["./build.sh", "-j2"]
    assert not options.parse_wrapper(["--", "true"]).lines
    with pytest.raises(UsageError):
        options.parse_wrapper(["--lines=all", "--", "true"])
