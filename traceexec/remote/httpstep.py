"""Dagu's ``http`` executor for a DAG step: the step's process is
``python -m traceexec.remote.httpcall`` (see there), the command ``METHOD URL``.

v1.17.4: ``executor: {type: http, config: {timeout, headers, query, body, silent,
debug, json, skipTLSVerify}}``; v2.6.5: ``type: http`` with ``with:`` (or
``config:``) and ``skip_tls_verify``.  The settings, method and URL go to the
process in a file of the run (0600), never on its command line.
"""

import json
import sys

V1_KEYS = {"timeout": "timeout", "headers": "headers", "query": "query", "body": "body",
           "silent": "silent", "debug": "debug", "json": "json",
           "skiptlsverify": "skip_tls_verify"}
V2_KEYS = {"timeout": "timeout", "headers": "headers", "query": "query", "body": "body",
           "silent": "silent", "debug": "debug", "json": "json",
           "skip_tls_verify": "skip_tls_verify"}
FLAGS = ("silent", "debug", "json", "skip_tls_verify")


class HttpRequest:
    """A step's request settings (``settings``: plain JSON data for httpcall)."""

    __slots__ = ("settings",)

    def __init__(self, settings):
        self.settings = settings


def read(config, v1: bool, problem) -> HttpRequest:
    settings = {}
    if config is None:
        return HttpRequest(settings)
    if not isinstance(config, dict):
        problem("the http executor's settings must be a mapping", None)
        return HttpRequest(settings)
    table = V1_KEYS if v1 else V2_KEYS
    for key, value in config.items():
        name = table.get(str(key).lower() if v1 else str(key))
        if name is None:
            problem("http executor: unknown key %r (known: %s)" % (key, ", ".join(sorted(
                table))), key)
        elif name in FLAGS:
            if not isinstance(value, bool):
                problem("http executor: %s must be true or false" % key, key)
            settings[name] = value is True
        elif name == "timeout":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problem("http executor: timeout must be whole seconds", key)
            else:
                settings[name] = value
        elif name in ("headers", "query"):
            if not isinstance(value, dict) or any(isinstance(v, (dict, list))
                                                  for v in value.values()):
                problem("http executor: %s must be a mapping of strings" % key, key)
            else:
                settings[name] = {str(k): "" if v is None else str(v) for k, v in value.items()}
        elif isinstance(value, (dict, list)):
            problem("http executor: body must be a string", key)
        else:
            settings[name] = "" if value is None else str(value)
    return HttpRequest(settings)


def step_request(s, key, v1: bool, check) -> HttpRequest:
    from .stepconfig import executor_config
    config, problem = executor_config(s, key, v1, check, "http")
    return read(config, v1, problem)


def request_argvs(request: HttpRequest, argvs: list, settings_path: str, shell=(), tail=()):
    """(the step's argvs, the settings file's text): each process's words are
    ``METHOD URL``; raises ValueError naming the problem otherwise.  The method
    and URL go in the file too (``requests``), each process named by its index:
    a URL may hold a password or a signed query, which no command line shows."""
    from .dagstep import shell_line
    result, requests = [], []
    for argv in argvs:
        line = shell_line(argv, shell, tail)
        words = line.split() if line is not None else argv
        if len(words) != 2:
            raise ValueError("the http executor's command is METHOD URL, not %r"
                             % " ".join(words))
        result.append([sys.executable, "-m", "traceexec.remote.httpcall", settings_path,
                       str(len(requests))])
        requests.append(list(words))
    return result, json.dumps(dict(request.settings, requests=requests,
                                   report=report_path(settings_path)))


def report_path(settings_path: str) -> str:
    """Where the step's process writes its request's attributes (``httpspan``)."""
    return settings_path + ".report"
