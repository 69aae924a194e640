"""``traceexec ssh [SSH OPTIONS] HOST [CMD...]``: ssh under a span, the context carried.

The system's ``ssh`` runs as the wrapped command (same output, exit status and
signals as ssh alone; ~/.ssh/config, agents and known_hosts as usual); the span
is named ``ssh HOST`` and records the line as typed.  When the line runs a remote
command, the command words are replaced by ``carrier.remote_line``, which
carries this span's TRACEPARENT/TRACESTATE/BAGGAGE; with no collector here,
ssh runs through ``homecoming`` so the remote spans come back.
"""

import os

from . import carrier, sshargs

SSH = "TRACEEXEC_SSH"
"""The ssh client to run (default ``ssh`` on PATH)."""


HELP = """usage: traceexec ssh [SSH OPTIONS] HOST [CMD...]

Runs ssh(1) under a span named "ssh HOST"; a remote command gets this span's
TRACEPARENT, TRACESTATE and BAGGAGE in its command line and, when traceexec is
on the remote PATH or in ~/.local/bin, runs under it as a child span with
host.name.  With no collector configured here, the remote spans come back over
the same connection into the local store.  Output, exit status and signals are
ssh's.  See docs/remote.md.

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
    context); with ``homecoming``, through remote/homecoming.py."""
    if not line.carries_context():
        return [client] + line.args
    homecoming = homecoming and not line.letters & {"t"}  # a terminal merges stderr in
    argv = ([client] + line.args[:line.command_at]
            + [carrier.remote_line(line.command, child_env, homecoming)])
    return homecoming_argv(argv) if homecoming else argv


def has_no_collector(environ) -> bool:
    """True when this host's spans go to the local store: then remote spans come home."""
    from ..delivery import config
    try:
        return config.resolve({}, None, environ).endpoint is None
    except config.ConfigError:
        return True  # execute() says so in its line, and records to the local store


def homecoming_argv(argv: list) -> list:
    """``argv`` (an ssh command) run through remote/homecoming.py."""
    import sys
    return [sys.executable, "-m", "traceexec.remote.homecoming"] + argv


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
