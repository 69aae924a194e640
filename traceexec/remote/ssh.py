"""``traceexec ssh [SSH OPTIONS] HOST [CMD...]``: ssh under a span, the context carried.

The system's ``ssh`` runs as the wrapped command (same output, exit status and
signals as ssh alone; ~/.ssh/config, agents and known_hosts as usual); the span
is named ``ssh HOST`` and records the line as typed.  When the line runs a remote
command, the command words are replaced by ``carrier.remote_line``, which
carries this span's TRACEPARENT/TRACESTATE/BAGGAGE; ssh runs through
``homecoming``, so that the remote spans come back, or this host's collector
settings go to the remote traceexec first (``settings``).
"""

import os

from . import carrier, sshargs

SSH = "TRACEEXEC_SSH"
"""The ssh client to run (default ``ssh`` on PATH)."""


HELP = """usage: traceexec ssh [SSH OPTIONS] HOST [CMD...]

Runs ssh(1) under a span named "ssh HOST"; a remote command gets this span's
TRACEPARENT, TRACESTATE and BAGGAGE in its command line and, when traceexec is
on the remote PATH or in ~/.local/bin, runs under it as a child span with
host.name.  With a collector configured here, the remote traceexec exports to
it (its settings sent over the connection, never in a command line); with none,
or one on loopback, the remote spans come back over the same connection.
Output, exit status and signals are ssh's.  See docs/remote.md.

examples:
  traceexec ssh build01 make -C src all
  traceexec ssh -p 2222 deploy@web1 ./release.sh 2.0.0

exit status: 0 the remote command succeeded; otherwise ssh's: the remote
command's status, 255 when ssh failed (connection, host key, login)

environment:
  TRACEEXEC_SSH          the ssh client to run (default: ssh on PATH)
"""


def ssh_argv(line: sshargs.SshLine, child_env, client="ssh", homecoming=False) -> list:
    """The ssh command to run for ``line`` in ``child_env`` (which holds the span's
    context) through remote/homecoming.py: with ``homecoming``, the remote spans
    come back (on a later connection after one with a terminal, which merges
    stderr in, or after a cut); else this host's collector settings go over
    ssh's stdin first, so the remote traceexec exports to the same collector.
    Where they cannot (-n: ssh reads no stdin; -t: a terminal would echo them),
    the spans come home and go on to the collector from here (not with -f: ssh
    goes on in the background)."""
    if not line.carries_context():
        return [client] + line.args
    tty = "t" in line.letters
    settings = not homecoming and not line.letters & NO_STDIN
    if not homecoming and not settings and "f" not in line.letters:
        homecoming = True  # -t, -n: the spans come home, then go on to the collector
    argv = ([client] + line.args[:line.command_at]
            + [carrier.remote_line(line.command, child_env, homecoming and not tty,
                                   settings)])
    if homecoming and not line.letters & {"f"}:  # -f: ssh goes on in the background
        fetch = "--fetch-after" if tty else "--fetch"
        return homecoming_argv(argv, fetch=(fetch, line.options_end, line.destination))
    return homecoming_argv(argv, settings) if settings else argv


NO_STDIN = frozenset("tnf")
"""ssh options after which its stdin cannot carry the collector settings."""


def has_no_collector(environ) -> bool:
    """True when the remote spans are to come home over the connection: this host's
    spans go to the local store, or to a collector on this host's loopback
    interface (which names another collector, or none, on the remote host).
    Otherwise the remote traceexec exports to this host's collector itself."""
    from ..delivery import config
    try:
        cfg = config.resolve({}, None, environ)
    except config.ConfigError:
        return True  # execute() says so in its line, and records to the local store
    return cfg.endpoint is None or is_loopback(cfg)


def is_loopback(cfg) -> bool:
    """True when ``cfg``'s endpoint is on this host's loopback interface."""
    import ipaddress
    from ..delivery.doctor import host_port
    host = host_port(cfg)[0]
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def homecoming_argv(argv: list, settings=False, fetch=None) -> list:
    """``argv`` (an ssh command) run through remote/homecoming.py; with ``settings``,
    this host's collector settings written to ssh's stdin first; with ``fetch``
    (``--fetch`` or ``--fetch-after``, where options go in ``argv`` after the
    client, the destination), the spans fetched on a later connection if needed."""
    import sys
    flags = (["--settings"] if settings else []) + (
        [fetch[0], str(fetch[1]), fetch[2]] if fetch else [])
    return [sys.executable, "-m", "traceexec.remote.homecoming"] + flags + argv


def ssh_main(args: list, environ=None) -> int:
    from ..wrap.command import execute
    from ..wrap.options import Options
    environ = os.environ if environ is None else environ
    if args[:1] in (["-h"], ["--help"]):
        from ..files import write_text
        write_text(1, HELP)
        return 0
    line = sshargs.split(args)
    client = environ.get(SSH) or "ssh"
    opts = Options()
    opts.argv = [client] + list(args)
    opts.name = "ssh " + line.destination
    opts.attributes = {"server.address": line.destination}
    homecoming = has_no_collector(environ)
    return execute(opts, environ,
                   argv_from_env=lambda env: ssh_argv(line, env, client, homecoming))
