"""One step as a DAG file writes it, read into ``model.Step`` with its schema's rules.

``build`` takes a step's mapping (or, in v2, a string) already read by
``source`` and renamed by ``schema.normalize``: the command in its form (a
line, v2's several lines or multi-line script, v1's argv, v2's ``exec``),
shell, directory, env, outputs (v2's object form too), preconditions and the
policies (``continueOn``, ``retryPolicy``, ``repeatPolicy``, ``parallel``), and
Dagu 2's ``defaults:``.  An unnamed v2 step gets Dagu's generated name.
"""
from __future__ import annotations

from . import model
from .checks import text_of
from .schema import NEUTRAL_STEP_KEYS, normalize, server_notice, spelled
from .source import Mapping, Sequence

LOCAL_EXECUTORS = ("", "command", "shell")
PLAIN_KEYS = NEUTRAL_STEP_KEYS
"""Keys both schemas spell so, each read by its own name (``schema.NEUTRAL_STEP_KEYS``).  A
step written with these alone (without ``defaults``) is read as written, not copied by
``normalize``.  A step of these keys alone (after ``normalize``, ``defaults`` laid over it)
leaves every other field at the ``model.Step`` default: ``build`` reads none of the others
for it.  In a DAG with an ``ssh:`` block a step without a type runs over ssh: never plain."""


def sub_mapping(mapping, key, kind, schema, check):
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check.problem("%s must be a mapping" % spelled(mapping, key), check.place(mapping, key))
        return None
    problems = []
    section = normalize(value, kind, schema, problems, [])
    for problem in problems:
        check.problem(problem.message, problem.place)
    return section


def read_defaults(doc, schema, check):
    """Dagu 2's ``defaults:`` block, normalized (None without one)."""
    return sub_mapping(doc, "defaults", "defaults", schema, check)


def _command_lines(s, step, schema, check):
    value = s.get("command")
    if value is None:
        return
    if isinstance(value, Sequence):
        words = []
        for item in value:
            if isinstance(item, Mapping) and len(item) == 1 and schema == model.V2:
                (k, v), = item.items()  # "echo a: b" read by YAML as a one-key map
                if isinstance(v, (Mapping, Sequence)):
                    check.problem("command items must be strings; quote one with a colon",
                                  check.place(s, "command"))
                    return
                words.append("%s: %s" % (k, text_of(v)))
            elif isinstance(item, (Mapping, Sequence)):
                check.problem("command must be a string or a list of strings",
                              check.place(s, "command"))
                return
            else:
                words.append(text_of(item))
        if schema == model.V1:
            if not words:
                check.problem("command is empty", check.place(s, "command"))
                return
            step.argv = words
        else:
            step.commands = [w.strip() for w in words if w.strip()]
            if not step.commands:
                check.problem("command is empty", check.place(s, "command"))
        return
    if isinstance(value, Mapping):
        check.problem("command must be a string or a list", check.place(s, "command"))
        return
    text = text_of(value)
    if not text.strip():
        check.problem("command is empty", check.place(s, "command"))
        return
    if schema == model.V2 and "\n" in text.strip():
        step.script = text.strip()   # Dagu 2: a multi-line command is a script
        return
    step.command = text.strip() if schema == model.V2 else text


def build_sequence(value, dag, schema, check, defaults, names) -> list:
    """The steps of ``steps:`` written as a list: (step, its index in the list, whether
    it gave ``depends``) for each, in order; a v2 list inside the list is a group of
    parallel steps, each with the group's index."""
    built = []
    # A step of a name and a one-line command alone, both strings (most steps), is made
    # here as ``build`` would make it: ``build``'s calls cost more than the step itself.
    # Not in a DAG with defaults: or ssh:, and never when PLAIN_KEYS is empty (a test
    # reads every step the full way so, to compare).
    short = defaults is None and dag.ssh is None and bool(PLAIN_KEYS)
    v1 = schema == model.V1
    for index, item in enumerate(value):
        if short and type(item) is Mapping and len(item) == 2:
            name, command = item.get("name"), item.get("command")
            if type(name) is str and type(command) is str:
                name, line = name.strip(), command.strip()
                if name and line and (v1 or "\n" not in line):
                    names.add(name)
                    step = model.plain_step(name, item.place, command if v1 else line)
                    built.append((step, index, False))
                    continue
        if not v1 and isinstance(item, Sequence):  # parallel steps
            members = [(member, item.place_of(i)) for i, member in enumerate(item)]
        else:
            members = ((item, value.place_of(index)),)
        for member, place in members:
            step = build(member, place, dag, schema, check, defaults, index, names)
            if step is not None:
                built.append((step, index, step.depends_given))
    return built


def build(item, place, dag, schema, check, defaults, index, names, forced_name=None):
    if isinstance(item, str) and schema == model.V2:
        raw = Mapping(place)
        raw["command"] = item
        raw.places["command"] = place
        item = raw
    if not isinstance(item, Mapping):
        check.problem("a step must be a mapping with name: and command:" if schema == model.V1
                      else "a step must be a command line or a mapping", place)
        return None
    as_written = defaults is None and PLAIN_KEYS.issuperset(item)
    if as_written:
        s = item  # normalize would copy it as it is: each key is its own loader name
    else:
        problems, notices = [], []
        s = normalize(item, "step", schema, problems, notices)
        for problem in problems:
            check.problem(problem.message, problem.place)
        dag.notices.extend(server_notice(place, key) for place, key in notices)
        if defaults is not None:
            s = _with_defaults(s, defaults)
    step = model.Step(name=forced_name or (check.string(s, "name") or "").strip(),
                      place=item.place)
    if "depends" in s:  # else the defaults: none given, an empty list
        step.depends_given = True
        step.depends = check.string_list(s, "depends")
        step.depends_place = check.place(s, "depends")
    # A plain step gives a name and a command: each optional key is read only when given
    # (each reading of an absent key gave None, an empty list or a default policy), which
    # is most of a plain step's reading; a step of PLAIN_KEYS alone skips them all.
    if dag.ssh is None and (as_written or PLAIN_KEYS.issuperset(s)):
        _command_lines(s, step, schema, check)
        return _finish(step, s, item, schema, check, index, names)
    step.id = (check.string(s, "id") or "").strip() or None if "id" in s else None
    step.description = check.string(s, "description") or "" if "description" in s else ""
    step.remote = _executor(s, schema, check, dag.ssh)
    _command_lines(s, step, schema, check)
    if "exec" in s:
        _exec(s, step, schema, check)
    script = check.string(s, "script") if "script" in s else None
    if script is not None:
        if step.script is not None:
            check.problem("a step has a multi-line command and a script", check.place(s, "script"))
        elif step.command is not None or step.argv is not None or step.commands:
            if schema == model.V1 and step.argv is None and step.command is not None:
                step.interpreter = step.command.split()   # v1: command runs the script
                step.command = None
            elif schema == model.V2 and (step.command is not None or step.commands):
                lines = [step.command] if step.command is not None else step.commands
                step.interpreter = lines[0].split()
                step.command, step.commands = None, []
            else:
                step.interpreter = step.argv
                step.argv = None
        step.script = script
    step.shell = check.words(s, "shell") if "shell" in s else None
    step.dir = (check.string(s, "working_dir") or "").strip() or None \
        if "working_dir" in s else None
    step.env = check.env(s, "env", step.env_places) if "env" in s else []
    if isinstance(s.get("output"), Mapping) and schema == model.V2:
        step.outputs = _object_output(s["output"], check.place(s, "output"), check)
        output = None
    else:
        output = check.string(s, "output") if "output" in s else None
    step.output = output.strip().lstrip("$") or None if output else None
    step.stdout = check.string(s, "stdout") if "stdout" in s else None
    step.stderr = check.string(s, "stderr") if "stderr" in s else None
    if step.stdout and step.stderr and step.stdout == step.stderr and schema == model.V2:
        check.problem("stdout and stderr cannot point to the same file %r" % step.stdout,
                      check.place(s, "stderr"))
    step.timeout_s = check.duration(s, "timeout_sec") or None if "timeout_sec" in s else None
    step.signal_on_stop = check.signal(s, "signal_on_stop") if "signal_on_stop" in s else None
    step.processes = check.processes(s, "processes") if "processes" in s else None
    step.lines = check.lines(s, "lines") if "lines" in s else None
    step.preconditions = check.preconditions(s.get("preconditions"),
                                             check.place(s, "preconditions"), schema) \
        if "preconditions" in s else []
    if "precondition" in s:
        step.preconditions += check.preconditions(s.get("precondition"),
                                                  check.place(s, "precondition"), schema)
    step.continue_on = _continue_on(s, schema, check)
    step.retry = _retry(s, schema, check) if "retry_policy" in s else model.RetryPolicy()
    step.repeat = _repeat(s, schema, check) if "repeat_policy" in s else model.RepeatPolicy()
    step.params = check.params(s, "params") if "params" in s else []
    step.parallel = _parallel(s, schema, check) if "parallel" in s else None
    return _finish(step, s, item, schema, check, index, names)


def _finish(step, s, item, schema, check, index, names):
    """The checks of what a step runs, and its name."""
    call = check.string(s, "call") if "call" in s else None
    if call is not None:
        step.call = call.strip()
        step.call_line = check.place(s, "call")[1] or 0
        if step.command is not None or step.script is not None or step.argv is not None \
                or step.commands:
            check.problem("step %r: %s starts a sub-DAG and cannot have a command or a script"
                          % (step.name or "#%d" % (index + 1), spelled(s, "call")),
                          check.place(s, "call"))
    elif step.parallel is not None:
        check.problem("parallel runs a sub-DAG per item: give %s" % (
            "run:" if schema == model.V1 else "call:"), check.place(s, "parallel"))
    elif step.command is None and step.script is None and step.argv is None \
            and not step.commands and not _publishes_only(step):
        check.problem("step %r has nothing to run: give command:, script: or %s" % (
            step.name or "#%d" % (index + 1), "run:" if schema == model.V1 else "call:"),
            item.place)
    if "params" in s and call is None:
        check.problem("step %r: params: is for sub-DAGs (%s); use env: for a command" % (
            step.name, "run:" if schema == model.V1 else "call:"), check.place(s, "params"))
    if not step.name:
        if schema == model.V1:
            check.problem("a step needs a name:", item.place)
            step.name = "<step at line %d>" % item.place[1]
        else:
            step.name = step.id or _generated_name(step, index, names)
    names.add(step.name)
    return step


OUTPUT_FIELDS = ("value", "from", "path", "decode", "select")


def _object_output(value, place, check) -> dict:
    """Dagu 2's object-form ``output``: each key a literal, or ``from`` a source."""
    entries = {}
    for key, raw in value.items():
        if not isinstance(raw, Mapping) or not any(k in OUTPUT_FIELDS for k in raw):
            entries[str(key)] = model.OutputEntry(value=_plain(raw))
            continue
        unknown = [k for k in raw if k not in OUTPUT_FIELDS]
        if unknown:
            check.problem("output.%s: unknown field %r" % (key, unknown[0]), place)
            continue
        if "value" in raw:
            if len(raw) > 1:
                check.problem("output.%s: value cannot be used with from, path, decode or "
                              "select" % key, place)
            entries[str(key)] = model.OutputEntry(value=_plain(raw["value"]))
            continue
        entry = model.OutputEntry(literal=False, source=text_of(raw.get("from")).strip(),
                                  path=raw.get("path"), decode=text_of(
                                      raw.get("decode") or "text").strip(),
                                  select=raw.get("select"))
        if entry.source not in ("stdout", "stderr", "file"):
            check.problem("output.%s: from must be stdout, stderr or file" % key, place)
        elif (entry.source == "file") != bool(entry.path):
            check.problem("output.%s: path goes with from: file (and only with it)" % key,
                          place)
        if entry.decode not in ("text", "json", "yaml"):
            check.problem("output.%s: decode must be text, json or yaml" % key, place)
        if entry.select and entry.decode == "text":
            check.problem("output.%s: select needs decode: json or yaml" % key, place)
        entries[str(key)] = entry
    return entries


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    return value


def _publishes_only(step) -> bool:
    """A v2 step whose only job is an object-form output of literals (Dagu's noop step)."""
    return bool(step.outputs) and all(e.literal or e.source == "file"
                                      for e in step.outputs.values())


def _generated_name(step, index, names) -> str:
    """Dagu 2's name for an unnamed step: its kind and position (``cmd_1``, ``dag_2``)."""
    prefix = ("parallel" if step.parallel is not None else "dag" if step.call is not None
              else "script" if step.script is not None else "cmd")
    counter = index + 1
    while "%s_%d" % (prefix, counter) in names:
        counter += 1
    return "%s_%d" % (prefix, counter)


def _executor(s, schema, check, ssh_default=None):
    key = "executor" if schema == model.V1 else "type"
    value = s.get(key)
    if value is None and ssh_default is not None and "call" not in s:
        value = "ssh"  # Dagu 2: a step with no type runs over the DAG's ssh: block
    if value is None:
        for extra in ("with", "config"):
            if extra in s:  # v2: the executor's settings, and no executor
                check.problem("%s is for type: ssh or http" % extra, check.place(s, extra))
        return None
    kind = value.get("type") if isinstance(value, Mapping) else value
    if isinstance(value, Mapping) and set(value) - {"type", "config"}:
        check.problem("executor has keys type: and config:", check.place(s, key))
    if kind == "ssh":  # traceexec/remote: over the system's OpenSSH client
        from ..remote.dagstep import step_target
        return step_target(s, key, schema == model.V1, check, ssh_default)
    if kind == "http":  # traceexec/remote: one request with the traceparent header
        from ..remote.httpstep import step_request
        return step_request(s, key, schema == model.V1, check)
    if not isinstance(kind, (str, type(None))) or (kind or "").strip() not in LOCAL_EXECUTORS:
        check.problem("%s %r is not supported: traceexec runs local commands, ssh and http" % (
            spelled(s, key), kind), check.place(s, key))
    return None


def _exec(s, step, schema, check):
    value = s["exec"]
    place = check.place(s, "exec")
    if not isinstance(value, Mapping):
        check.problem("exec must be a mapping with command: and args:", place)
        return
    problems = []
    spec = normalize(value, "exec", schema, problems, [])
    for problem in problems:
        check.problem(problem.message, problem.place)
    if "command" in s or "script" in s or "shell" in s:
        check.problem("exec cannot be used together with command, script or shell", place)
    command = (check.string(spec, "command") or "").strip()
    if not command:
        check.problem("exec.command is empty", place)
        return
    args = spec.get("args") or []
    if not isinstance(args, Sequence) or any(isinstance(a, (Mapping, Sequence)) for a in args):
        check.problem("exec.args must be a list of strings", check.place(spec, "args"))
        args = []
    step.argv = [command] + [text_of(a) for a in args]


def _with_defaults(s, defaults):
    """Dagu 2's ``defaults:``: what a step does not set, it takes; env and preconditions
    are prepended."""
    result = Mapping(s.place)
    result.places = dict(s.places)
    result.spelling = dict(s.spelling or {})
    result.update(s)
    for key in ("continue_on", "retry_policy", "repeat_policy", "timeout_sec",
                "signal_on_stop"):
        if key not in s and key in defaults:
            result[key] = defaults[key]
            result.places[key] = defaults.place_of(key)
    for key in ("env", "preconditions"):
        if key in defaults:
            mine = s.get(key)
            theirs = defaults[key]
            combined = Sequence(defaults.place_of(key))
            for part in (theirs, mine):
                if part is None:
                    continue
                for item in (part if isinstance(part, Sequence) else [part]):
                    combined.append(item)
                    combined.places.append(defaults.place_of(key))
            result[key] = combined
            result.places[key] = s.place_of(key) if key in s else defaults.place_of(key)
    return result


def _continue_on(s, schema, check) -> model.ContinueOn:
    value = s.get("continue_on")
    if value is None:
        return model.ContinueOn()
    if isinstance(value, str) and schema == model.V2:
        word = value.strip().lower()
        if word not in ("skipped", "failed"):
            check.problem("continue_on: expected 'skipped' or 'failed', got %r" % value,
                          check.place(s, "continue_on"))
            return model.ContinueOn()
        return model.ContinueOn(skipped=word == "skipped", failure=word == "failed")
    section = sub_mapping(s, "continue_on", "continue_on", schema, check)
    if section is None:
        return model.ContinueOn()
    return model.ContinueOn(failure=bool(check.boolean(section, "failure")),
                            skipped=bool(check.boolean(section, "skipped")),
                            exit_codes=check.exit_codes(section, "exit_code"),
                            output=tuple(check.string_list(section, "output")),
                            mark_success=bool(check.boolean(section, "mark_success")))


def _retry(s, schema, check) -> model.RetryPolicy:
    section = sub_mapping(s, "retry_policy", "retry_policy", schema, check)
    if section is None:
        return model.RetryPolicy()
    if schema == model.V2:  # Dagu 2 refuses a retry policy without both
        for key in ("limit", "interval_sec"):
            if key not in section:
                check.problem("%s is required when retry_policy is specified" % key,
                              check.place(s, "retry_policy"))
    max_interval = check.duration(section, "max_interval_sec")
    return model.RetryPolicy(
        limit=check.number_or_variable(section, "limit", 0),
        interval_s=check.number_or_variable(section, "interval_sec", 0.0, duration=True),
        exit_codes=check.exit_codes(section, "exit_code"),
        backoff=check.backoff(section, "backoff"),
        max_interval_s=max_interval)


def _repeat(s, schema, check) -> model.RepeatPolicy:
    section = sub_mapping(s, "repeat_policy", "repeat_policy", schema, check)
    if section is None:
        return model.RepeatPolicy()
    repeat = section.get("repeat")
    condition = check.string(section, "condition")
    expected = check.string(section, "expected")
    codes = check.exit_codes(section, "exit_code")
    policy = model.RepeatPolicy(
        exit_codes=codes,
        limit=check.number_or_variable(section, "limit", 0),
        interval_s=check.number_or_variable(section, "interval_sec", 0.0, duration=True),
        backoff=check.backoff(section, "backoff"),
        max_interval_s=check.duration(section, "max_interval_sec"))
    if condition is not None:
        policy.condition = model.Precondition(condition, expected, False,
                                              "%s:%s" % check.place(section, "condition"))
    if isinstance(repeat, str) and repeat.strip() in ("while", "until"):
        policy.mode = repeat.strip()
        if condition is None and not codes:
            check.problem("repeat mode %r needs a condition or exit codes" % policy.mode,
                          check.place(section, "repeat"))
    elif repeat is True or repeat is None or repeat is False:
        if repeat is True and condition is None and not codes:
            policy.mode, policy.legacy_repeat = "while", True
        elif condition is not None and expected is not None:
            policy.mode = "until"
        elif condition is not None or codes:
            policy.mode = "while"
        if schema == model.V1 and policy.mode is not None:
            policy.legacy_repeat = True
        # Dagu 1.17.4 does not signal a step with repeat: true (scheduler.go Signal)
        policy.finishes_on_signal = schema == model.V1 and repeat is True
    else:
        check.problem("repeat must be true, false, while or until, not %r" % (repeat,),
                      check.place(section, "repeat"))
    return policy


def _parallel(s, schema, check):
    value = s.get("parallel")
    if value is None:
        return None
    parallel = model.Parallel()
    place = check.place(s, "parallel")
    if isinstance(value, str):
        parallel.variable = value
    elif isinstance(value, Sequence):
        parallel.items = _parallel_items(value, place, check)
    elif isinstance(value, Mapping):
        section = sub_mapping(s, "parallel", "parallel", schema, check)
        items = section.get("items") if section is not None else None
        if isinstance(items, str):
            parallel.variable = items
        elif isinstance(items, Sequence):
            parallel.items = _parallel_items(items, place, check)
        elif items is not None:
            check.problem("parallel items must be a list or a ${VARIABLE}", place)
        if section is not None and "max_concurrent" in section:
            parallel.max_concurrent = check.integer(section, "max_concurrent", 10, 1)
    else:
        check.problem("parallel must be a list, a ${VARIABLE} or a mapping", place)
        return None
    if not parallel.items and not parallel.variable:
        check.problem("parallel needs items (a list or a ${VARIABLE})", place)
    return parallel


def _parallel_items(items, place, check) -> list:
    result = []
    for item in items:
        if isinstance(item, Mapping):
            if any(isinstance(v, (Mapping, Sequence)) for v in item.values()):
                check.problem("parallel item values must be strings, numbers or booleans",
                              place)
            result.append({str(k): text_of(v) for k, v in item.items()})
        elif isinstance(item, Sequence) or item is None:
            check.problem("parallel items must be strings, numbers or mappings", place)
        else:
            result.append(text_of(item))
    return result
