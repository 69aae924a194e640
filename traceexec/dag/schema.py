"""Dagu's two DAG schemas, told apart by their keys, read into one spelling.

Dagu 1.x (v1.17.4) decodes a DAG with Go field names matched without regard
to case, so ``handlerOn``, ``HandlerOn`` and ``handleron`` are one key; Dagu
2.x (v2.6.5) matches snake_case YAML tags exactly and refuses the camelCase
spelling.  ``detect`` decides a file's schema from the keys it uses (a key
only one schema knows casts a vote; votes for both are an error naming the
keys); ``normalize`` renames every structural key to the snake_case spelling
the loader reads, keeping where each was written and how, so messages quote
the file's own words.  Unknown keys are errors with the closest key of the
file's own schema suggested.

Each table maps a key as the schema spells it to the loader's name, ``None``
for keys that are accepted with a notice (server features), or a string
starting with ``!`` for keys refused with that reason.
"""
from __future__ import annotations


from . import model
from .source import Mapping, Sequence

SERVER = None
LOCAL_ONLY = "!%s is not supported: traceexec runs local commands"


def _refuse(reason):
    return "!" + reason


# -- v1.17.4 (camelCase, matched case-insensitively) ---------------------------------------

V1_DAG = {
    "name": "name", "description": "description", "type": "type", "dotenv": "dotenv",
    "env": "env", "params": "params", "steps": "steps", "handlerOn": "handler_on",
    "timeoutSec": "timeout_sec", "maxActiveSteps": "max_active_steps",
    "maxCleanUpTimeSec": "max_clean_up_time_sec", "precondition": "precondition",
    "preconditions": "preconditions", "otel": "otel", "schedule": "schedule",
    "maxOutputSize": "max_output_size",      # documented for v1.17.4 (docs/reference/yaml.md)
    "workingDir": "working_dir",             # a traceexec extension (Dagu 1.16 and 2.x have it)
    "processes": "processes",                # traceexec --processes (both schemas)
    "lines": "lines",                        # traceexec --lines (both schemas)
    "group": SERVER, "skipIfSuccessful": SERVER, "logDir": SERVER, "smtp": SERVER,
    "mailOn": SERVER, "errorMail": SERVER, "infoMail": SERVER, "delaySec": SERVER,
    "restartWaitSec": SERVER, "histRetentionDays": SERVER, "maxActiveRuns": SERVER,
    "tags": SERVER, "queue": SERVER,
}
V1_STEP = {
    "name": "name", "id": "id", "description": "description", "dir": "working_dir",
    "command": "command", "shell": "shell", "script": "script", "stdout": "stdout",
    "stderr": "stderr", "output": "output", "depends": "depends", "continueOn": "continue_on",
    "retryPolicy": "retry_policy", "repeatPolicy": "repeat_policy",
    "precondition": "precondition", "preconditions": "preconditions",
    "signalOnStop": "signal_on_stop", "run": "call", "params": "params",
    "parallel": "parallel", "executor": "executor", "shellPackages": SERVER,
    "mailOnError": SERVER,
    "env": "env", "timeoutSec": "timeout_sec",   # traceexec extensions (Dagu 2.x has both)
    "processes": "processes", "lines": "lines",
}
V1_HANDLERS = {"success": "success", "failure": "failure", "cancel": "cancel", "exit": "exit"}
V1_CONTINUE = {"failure": "failure", "skipped": "skipped", "exitCode": "exit_code",
               "output": "output", "markSuccess": "mark_success"}
V1_RETRY = {"limit": "limit", "intervalSec": "interval_sec", "exitCode": "exit_code",
            "backoff": "backoff", "maxIntervalSec": "max_interval_sec"}   # the last two: ext.
V1_REPEAT = {"repeat": "repeat", "intervalSec": "interval_sec", "limit": "limit",
             "condition": "condition", "expected": "expected", "exitCode": "exit_code",
             "backoff": "backoff", "maxIntervalSec": "max_interval_sec"}
V1_PARALLEL = {"items": "items", "maxConcurrent": "max_concurrent"}
V1_CONDITION = {"condition": "condition", "expected": "expected", "command": "condition"}

# -- v2.6.5 (snake_case, exact) -----------------------------------------------------------

V2_DAG = {
    "name": "name", "description": "description", "type": "type", "dotenv": "dotenv",
    "env": "env", "params": "params", "steps": "steps", "handler_on": "handler_on",
    "timeout_sec": "timeout_sec", "max_active_steps": "max_active_steps",
    "max_clean_up_time_sec": "max_clean_up_time_sec", "preconditions": "preconditions",
    "otel": "otel", "schedule": "schedule", "max_output_size": "max_output_size",
    "working_dir": "working_dir", "shell": "shell", "defaults": "defaults",
    "processes": "processes", "lines": "lines",
    "group": SERVER, "skip_if_successful": SERVER, "catchup_window": SERVER,
    "overlap_policy": SERVER, "log_dir": SERVER, "log_output": SERVER, "mail_on": SERVER,
    "error_mail": SERVER, "info_mail": SERVER, "wait_mail": SERVER, "smtp": SERVER,
    "delay_sec": SERVER, "restart_wait_sec": SERVER, "hist_retention_days": SERVER,
    "hist_retention_runs": SERVER, "max_active_runs": SERVER, "labels": SERVER,
    "tags": SERVER, "queue": SERVER, "retry_policy": SERVER, "worker_selector": SERVER,
    "run_config": SERVER, "webhook": SERVER,
    "container": _refuse(LOCAL_ONLY % "container"),
    "ssh": "ssh", "s3": _refuse(LOCAL_ONLY % "s3"),
    "llm": _refuse(LOCAL_ONLY % "llm"), "redis": _refuse(LOCAL_ONLY % "redis"),
    "harness": _refuse(LOCAL_ONLY % "harness"), "harnesses": _refuse(LOCAL_ONLY % "harnesses"),
    "kubernetes": _refuse(LOCAL_ONLY % "kubernetes"),
    "registry_auths": _refuse(LOCAL_ONLY % "registry_auths"),
    "secrets": _refuse("secrets providers are not supported: use env: or dotenv:"),
    "artifacts": _refuse("artifacts are a Dagu server feature, not supported"),
    "step_types": _refuse("custom step_types are not supported"),
}
V2_STEP = {
    "name": "name", "id": "id", "description": "description", "working_dir": "working_dir",
    "command": "command", "exec": "exec", "shell": "shell", "script": "script",
    "stdout": "stdout", "stderr": "stderr", "output": "output", "depends": "depends",
    "continue_on": "continue_on", "retry_policy": "retry_policy",
    "repeat_policy": "repeat_policy", "preconditions": "preconditions",
    "signal_on_stop": "signal_on_stop", "call": "call", "params": "params",
    "parallel": "parallel", "env": "env", "timeout_sec": "timeout_sec", "type": "type",
    "processes": "processes", "lines": "lines",
    "mail_on_error": SERVER, "shell_packages": SERVER, "log_output": SERVER,
    "worker_selector": SERVER,
    "container": _refuse(LOCAL_ONLY % "container"), "with": "with",
    "config": "config", "llm": _refuse(LOCAL_ONLY % "llm"),
    "messages": _refuse(LOCAL_ONLY % "messages"), "agent": _refuse(LOCAL_ONLY % "agent"),
    "approval": _refuse("approval steps need a Dagu server to approve them; not supported"),
    "value": _refuse("router steps are not supported"),
    "routes": _refuse("router steps are not supported"),
}
V2_HANDLERS = {"init": "init", "success": "success", "failure": "failure",
               "abort": "cancel", "exit": "exit", "wait": "wait"}
V2_CONTINUE = {"failure": "failure", "failed": "failure", "skipped": "skipped",
               "exit_code": "exit_code", "output": "output", "mark_success": "mark_success"}
V2_RETRY = {"limit": "limit", "interval_sec": "interval_sec", "exit_code": "exit_code",
            "backoff": "backoff", "max_interval_sec": "max_interval_sec"}
V2_REPEAT = {"repeat": "repeat", "interval_sec": "interval_sec", "limit": "limit",
             "condition": "condition", "expected": "expected", "exit_code": "exit_code",
             "backoff": "backoff", "max_interval_sec": "max_interval_sec"}
V2_PARALLEL = {"items": "items", "max_concurrent": "max_concurrent"}
V2_CONDITION = dict(V1_CONDITION, negate="negate")
V2_EXEC = {"command": "command", "args": "args"}
V2_DEFAULTS = {"continue_on": "continue_on", "retry_policy": "retry_policy",
               "repeat_policy": "repeat_policy", "timeout_sec": "timeout_sec",
               "signal_on_stop": "signal_on_stop", "env": "env",
               "preconditions": "preconditions", "mail_on_error": SERVER,
               "agent": _refuse(LOCAL_ONLY % "agent")}
OTEL = {"enabled": "enabled", "endpoint": "endpoint", "headers": "headers",
        "insecure": "insecure", "timeout": "timeout", "resource": "resource"}

TABLES = {
    model.V1: {"dag": V1_DAG, "step": V1_STEP, "handler_on": V1_HANDLERS,
               "continue_on": V1_CONTINUE, "retry_policy": V1_RETRY,
               "repeat_policy": V1_REPEAT, "parallel": V1_PARALLEL, "condition": V1_CONDITION,
               "otel": OTEL},
    model.V2: {"dag": V2_DAG, "step": V2_STEP, "handler_on": V2_HANDLERS,
               "continue_on": V2_CONTINUE, "retry_policy": V2_RETRY,
               "repeat_policy": V2_REPEAT, "parallel": V2_PARALLEL, "condition": V2_CONDITION,
               "exec": V2_EXEC, "defaults": V2_DEFAULTS, "otel": OTEL},
}
SPELLED = {model.V1: {"handler_on": "handlerOn", "continue_on": "continueOn",
                      "retry_policy": "retryPolicy", "repeat_policy": "repeatPolicy"},
           model.V2: {}}


class SchemaProblem(Exception):
    def __init__(self, message, place):
        super().__init__(message)
        self.message = message
        self.place = place


def lookup(table, key, schema):
    """(spelling in the table, loader name) of ``key``; (None, None) when unknown."""
    if not isinstance(key, str):
        return None, None
    if key in table:
        return key, table[key]
    if schema == model.V1:
        lowered = key.lower()
        for known, name in table.items():
            if known.lower() == lowered:
                return known, name
    return None, None


# -- detection ------------------------------------------------------------------------------

_MEMO_LIMIT = 4096
"""Keys remembered per table (``_verdict``, ``_spelling``): a file's own keys, so bounded
only against a file of endless unknown keys."""
_VERDICTS = {}
_SPELLINGS = {}
_WALKED = frozenset(("params", "steps", "handler_on", "continue_on", "retry_policy",
                     "repeat_policy", "parallel", "exec", "defaults"))
"""Loader names of the keys whose values ``_votes`` walks into."""


def _verdict(kind, key) -> tuple:
    """(the schema that alone knows ``key`` as a ``kind`` key, else None; the loader's name
    for it, else None): both tables' lookups, kept per string key as a DAG repeats its keys
    on every step."""
    verdict = _VERDICTS.get((kind, key)) if type(key) is str else None
    if verdict is None:
        spelled_v1, name_v1 = lookup(TABLES[model.V1].get(kind, {}), key, model.V1)
        spelled_v2, name_v2 = lookup(TABLES[model.V2].get(kind, {}), key, model.V2)
        in_v1, in_v2 = spelled_v1 is not None, spelled_v2 is not None
        verdict = ((model.V1 if in_v1 else model.V2) if in_v1 != in_v2 else None,
                   name_v1 if in_v1 else name_v2)
        if type(key) is str and len(_VERDICTS) < _MEMO_LIMIT:
            _VERDICTS[(kind, key)] = verdict
    return verdict


def _spelling(table, kind, key, schema) -> tuple:
    """``lookup(table, key, schema)`` for ``table``, ``TABLES[schema][kind]``, kept per
    string key."""
    looked_up = _SPELLINGS.get((schema, kind, key)) if type(key) is str else None
    if looked_up is None:
        looked_up = lookup(table, key, schema)
        if type(key) is str and len(_SPELLINGS) < _MEMO_LIMIT:
            _SPELLINGS[(schema, kind, key)] = looked_up
    return looked_up


def _votes(document, kind, found):
    """Add (schema, key, place) for every key only one schema knows, walking the structure."""
    if not isinstance(document, Mapping):
        return
    for key, value in document.items():
        vote, name = _verdict(kind, key)
        if vote is not None:
            found.append((vote, key, document.place_of(key)))
        if name not in _WALKED:
            continue
        if kind == "dag" and name == "params" and isinstance(value, Sequence):
            for item in value:
                if isinstance(item, Mapping) and "name" in item and len(item) > 1:
                    found.append((model.V2, "a typed param", document.place_of(key)))
        if kind in ("dag", "defaults") and name == "steps":
            items = value.values() if isinstance(value, Mapping) else (
                value if isinstance(value, Sequence) else [])
            for item in items:
                if _is_neutral_step(item):
                    continue
                for step in (item if isinstance(item, Sequence) else [item]):
                    _votes(step, "step", found)
                    _step_form_votes(step, found, value)
        elif name == "handler_on" and isinstance(value, Mapping):
            _votes(value, "handler_on", found)
            for handler in value.values():
                _votes(handler, "step", found)
        elif name in ("continue_on", "retry_policy", "repeat_policy", "parallel", "exec",
                      "defaults") and isinstance(value, Mapping):
            _votes(value, name, found)


NEUTRAL_STEP_KEYS = frozenset(("name", "command", "depends"))
"""Step keys both schemas spell alike, each its own loader name, and whose values ``_votes``
does not walk into (``stepspec.PLAIN_KEYS`` too)."""


def _is_neutral_step(step) -> bool:
    """Whether a step casts no vote (``_votes``, ``_step_form_votes``): a mapping of
    neutral keys with its name, whose command is not a list (most steps)."""
    return (type(step) is Mapping and "name" in step and NEUTRAL_STEP_KEYS.issuperset(step)
            and not isinstance(step.get("command"), Sequence))


def _step_form_votes(step, found, container):
    """Forms only Dagu 2 reads: string steps, unnamed steps, several command lines."""
    place = container.place if isinstance(container, (Mapping, Sequence)) else (None, None)
    if isinstance(step, str):
        found.append((model.V2, "a step written as a string", place))
    elif isinstance(step, Sequence):
        found.append((model.V2, "a list of parallel steps", step.place))
    elif isinstance(step, Mapping):
        if "name" not in step and isinstance(container, Sequence) and \
                not any(isinstance(k, str) and k.lower() == "name" for k in step):
            found.append((model.V2, "a step without a name", step.place))
        if isinstance(step.get("output"), Mapping):
            found.append((model.V2, "an object-form output", step.place_of("output")))
        command = step.get("command")
        # v1 reads a list as argv, whose first word is a program: a space there means lines
        if isinstance(command, Sequence) and command and isinstance(command[0], str) \
                and " " in command[0].strip():
            found.append((model.V2, "a list of command lines", step.place_of("command")))


def detect(documents) -> tuple:
    """(schema, evidence) for the DAG documents of one file; raises SchemaProblem when
    they mix both schemas' keys.  A file with no key specific to either is v1."""
    found = []
    for document in documents:
        _votes(document, "dag", found)
    v1 = [f for f in found if f[0] == model.V1]
    v2 = [f for f in found if f[0] == model.V2]
    keyed_v2 = [f for f in v2 if not f[1].startswith("a ")]
    if v1 and keyed_v2:
        old, new = v1[0], keyed_v2[0]
        hint = _snake_hint(old[1])
        raise SchemaProblem(
            "mixes Dagu v1 key %r (line %s) with v2 key %r (line %s)%s" % (
                old[1], old[2][1], new[1], new[2][1],
                "; in v2 %r is %r" % (old[1], hint) if hint else ""), old[2])
    if v1 and v2:  # v1 keys and a v2-only form (a string step...): v1 refuses the form
        return model.V1, v1
    if v2:
        return model.V2, v2
    return model.V1, v1


def _snake_hint(key):
    from .key_hints import LEGACY_TO_SNAKE
    spelled, _ = lookup({k: k for k in LEGACY_TO_SNAKE}, key, model.V1)
    return LEGACY_TO_SNAKE.get(spelled) if spelled else None


# -- normalization -------------------------------------------------------------------------

def server_notice(place, key) -> str:
    """The notice for a key that only a Dagu server acts on (``SERVER``)."""
    return "%s:%s: %s is for a Dagu server and is ignored" % (place[0], place[1], key)


def normalize(document, kind, schema, problems, notices):
    """A copy of ``document`` (a Mapping of ``kind``) with the loader's key names.

    Unknown keys and refused keys become problems; server keys, notices.
    """
    table = TABLES[schema][kind]
    result = Mapping(document.place)
    result.spelling = {}
    places, own_place = document.places, document.place
    for key, value in document.items():
        place = places.get(key, own_place)
        spelled, name = _spelling(table, kind, key, schema)
        if spelled is None:
            problems.append(SchemaProblem(_unknown(key, kind, schema), place))
            continue
        if name is SERVER:
            notices.append((place, spelled))
            continue
        if name.startswith("!"):
            problems.append(SchemaProblem(name[1:], place))
            continue
        if name in result:
            if name in ("condition",) and kind == "condition":
                problems.append(SchemaProblem("a precondition has both condition and command",
                                              place))
            else:
                problems.append(SchemaProblem("duplicate key %r (also written as %r)" % (
                    key, result.spelling[name]), place))
            continue
        result[name] = value
        result.places[name] = place
        result.spelling[name] = key
    return result


def spelled(mapping, name) -> str:
    """How the file wrote the key the loader calls ``name``."""
    return (getattr(mapping, "spelling", None) or {}).get(name, name)


def context_word(kind, schema) -> str:
    """What a message calls a mapping of ``kind``: ``step``, ``continueOn``, ``continue_on``..."""
    if kind in SPELLED[schema]:
        return SPELLED[schema][kind]
    return {"dag": "DAG", "condition": "precondition"}.get(kind, kind)


def _unknown(key, kind, schema) -> str:
    known = list(TABLES[schema][kind])
    text = "unknown %s key %r" % (context_word(kind, schema), key)
    if schema == model.V2:
        snake = _snake_hint(key)
        if snake:
            return "%s (Dagu 2 spells it %s)" % (text, snake)
    import difflib  # only for a message
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if not close and schema == model.V1:
        lowered = difflib.get_close_matches(str(key).lower(), [k.lower() for k in known], n=1,
                                            cutoff=0.6)
        close = [k for k in known if lowered and k.lower() == lowered[0]][:1]
    return "%s (did you mean %r?)" % (text, close[0]) if close else text
