"""Dagu's ``ssh`` executor for a DAG step, run through the system's OpenSSH client.

v1.17.4: ``executor: {type: ssh, config: {user, ip, port, key, StrictHostKeyChecking}}``.
v2.6.5: ``type: ssh`` with ``with:`` (or ``config:``): ``user, host`` (or ``ip``),
``port, key, strict_host_key, known_host_file, shell, shell_args, timeout,
bastion: {host, port, user}``; the DAG-level ``ssh:`` block (same keys, ``shell``
a string or a list, no ``ip``/``shell_args``) is the target of every step with no
type and of ``type: ssh`` steps without settings.  The step's command runs on the
host with the step span's context in its command line (``carrier``), so a remote
traceexec makes its span a child of the step's; with a collector in the step's
environment, the remote traceexec exports to it (``settings``), else the remote
spans come home (``homecoming``).

``password`` is refused: the OpenSSH client takes no password from a file; keys,
agents and ~/.ssh/config work as they do for ``ssh``.
"""

import os
import re
import shlex

from . import carrier
from .ssh import SSH, has_no_collector, homecoming_argv

V1_KEYS = {"user": "user", "ip": "host", "host": "host", "port": "port", "key": "key",
           "password": "password", "stricthostkeychecking": "strict"}
"""v1's config keys (matched case-insensitively, as Dagu's decoder does) -> ours."""
V2_KEYS = {"user": "user", "host": "host", "ip": "host", "port": "port", "key": "key",
           "password": "password", "strict_host_key": "strict",
           "known_host_file": "known_hosts", "shell": "shell", "shell_args": "shell_args",
           "timeout": "timeout", "bastion": "bastion"}
DAG_KEYS = {k: v for k, v in V2_KEYS.items() if k not in ("ip", "shell_args")}
"""v2's DAG-level ``ssh:`` keys (Dagu 2.6.5's spec: its ``shell`` takes a list too)."""
BASTION_KEYS = ("host", "port", "user")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class SshTarget:
    """Where and how an ssh step connects (the step's ``config``/``with``, read)."""

    __slots__ = ("host", "user", "port", "key", "strict", "known_hosts", "shell", "timeout_s",
                 "jump")

    def __init__(self):
        self.host = self.user = self.port = self.key = self.known_hosts = self.jump = None
        self.strict = True
        self.shell = []
        self.timeout_s = None

    def options(self) -> list:
        """ssh's options for this target, ending with ``--`` and the host."""
        opts = ["-o", "BatchMode=yes"]  # a step never waits at a prompt
        if self.user:
            opts += ["-l", self.user]
        if self.port:
            opts += ["-p", self.port]
        if self.key:
            opts += ["-i", os.path.expanduser(self.key)]
        if self.known_hosts:
            opts += ["-o", "UserKnownHostsFile=" + os.path.expanduser(self.known_hosts)]
        if not self.strict:
            opts += ["-o", "StrictHostKeyChecking=no"]
        if self.timeout_s is not None:
            opts += ["-o", "ConnectTimeout=%d" % self.timeout_s]
        if self.jump:
            opts += ["-J", self.jump]
        return opts + ["--", self.host]


def read(config, schema_v1: bool, problem, table=None) -> SshTarget | None:
    """The target from a step's config mapping; ``problem(message, key)`` reports each
    bad value (with the key whose place to name, or None for the mapping)."""
    if not isinstance(config, dict):
        problem("the ssh executor needs a mapping of host, user, port, key...", None)
        return None
    table = table or (V1_KEYS if schema_v1 else V2_KEYS)
    target = SshTarget()
    for key, value in config.items():
        name = table.get(str(key).lower() if schema_v1 else str(key))
        if name is None:
            problem("ssh executor: unknown key %r (known: %s)" % (key, ", ".join(sorted(
                set(table)))), key)
        elif name == "password":
            problem("ssh executor: password is not supported (the OpenSSH client is used): "
                    "use key:, an agent or ~/.ssh/config", key)
        elif name == "strict":
            if not isinstance(value, bool):
                problem("ssh executor: %s must be true or false" % key, key)
            else:
                target.strict = value
        elif name == "shell_args":
            if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
                problem("ssh executor: shell_args must be a list of strings", key)
            else:
                target.shell += [str(v) for v in value]
        elif name == "bastion":
            target.jump = _jump(value, key, problem)
        elif name == "shell" and table is DAG_KEYS and isinstance(value, list):
            if not value or any(isinstance(v, (dict, list)) or v is None for v in value):
                problem("ssh executor: shell must be a string or a list of strings", key)
            else:
                target.shell = [str(v) for v in value]
        elif isinstance(value, (dict, list)) or value is None or str(value).strip() == "":
            problem("ssh executor: %s must be a non-empty string" % key, key)
        elif name == "shell":
            target.shell = shlex.split(str(value)) + target.shell
        elif name == "timeout":
            target.timeout_s = _seconds(str(value), key, problem)
        elif name == "port" and not str(value).isdigit():
            problem("ssh executor: port must be a number, not %r" % value, key)
        else:
            setattr(target, name, str(value).strip())
    if not target.host and table is not DAG_KEYS:
        problem("ssh executor: no host (%s)" % ("ip:" if schema_v1 else "host:"), None)
        return None
    return target


def _seconds(text, key, problem):
    found = _DURATION.match(text.strip()) if text.strip() else None
    if not found:
        problem("ssh executor: %s %r is not a duration like 30s or 1m" % (key, text), key)
        return None
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def _jump(value, key, problem):
    if not isinstance(value, dict) or not value.get("host") or set(value) - set(BASTION_KEYS):
        problem("ssh executor: bastion takes host, port and user (keys and passwords: "
                "use ~/.ssh/config)", key)
        return None
    jump = str(value["host"])
    if value.get("user"):
        jump = "%s@%s" % (value["user"], jump)
    if value.get("port"):
        jump = "%s:%s" % (jump, value["port"])
    return jump


def shell_line(argv: list, shell: list, tail: list) -> str | None:
    """The line of a step's shell process (``shell [-e] -c LINE DAGNAME ARGS...``, as
    dag/commands.py builds it), or None when ``argv`` runs words without a shell."""
    at = len(argv) - len(tail) - 1
    if at < 2 or argv[:len(shell)] != list(shell) or argv[at + 1:] != list(tail) \
            or argv[at - 1] != "-c":
        return None
    return argv[at]


def remote_argv(target: SshTarget, argv: list, env: dict, shell=(), tail=()) -> list:
    """The local ssh command that runs ``argv`` (a step's process) on ``target``.

    A shell line goes as the line itself, run by the remote login shell as ssh
    does (or by the config's ``shell``); words run without a shell go quoted."""
    line = shell_line(argv, shell, tail)
    if line is None:
        command = shlex.join(argv)
    elif target.shell:
        command = shlex.join(target.shell + ["-c", line])
    else:
        command = line
    client = env.get(SSH) or "ssh"
    # remote spans come home under the step span, or go to our collector
    homecoming = has_no_collector(env)
    options = target.options()
    argv = [client] + options + [carrier.remote_line([command], env, homecoming,
                                                     not homecoming)]
    fetch = ("--fetch", len(options) - 2, target.host) if homecoming else None  # before --
    return homecoming_argv(argv, not homecoming, fetch)


def step_target(s, key, v1: bool, check, default=None) -> SshTarget | None:
    """The target of a step whose ``key`` (executor:/type:) says ssh; without settings
    of its own, ``default`` (the DAG's ``ssh:``).  A step's settings replace the
    DAG's whole, as in Dagu 2.6.5 (``resolveSSHClient``): they are not merged."""
    from .stepconfig import executor_config
    config, problem = executor_config(s, key, v1, check, "ssh")
    if not config and default is not None:
        if not default.host:
            problem("ssh executor: no host (host: here or in the DAG's ssh:)", None)
            return None
        return default
    return read(config, v1, problem)


def dag_target(doc, check) -> SshTarget | None:
    """v2's DAG-level ``ssh:`` block, read once (its host may be left to the steps)."""
    config = doc["ssh"]

    def problem(message, bad_key):
        place_of = getattr(config, "place_of", None)
        check.problem(message, place_of(bad_key) if bad_key is not None and place_of
                      else check.place(doc, "ssh"))
    return read(config, False, problem, DAG_KEYS)
