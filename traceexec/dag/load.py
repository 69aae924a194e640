"""Load a DAG file in either of Dagu's schemas into ``model.Dag``.

``load`` reads every YAML document of the file (the first is the DAG, the
others are local DAGs a step can ``call``), lays it over the base config,
decides the schema (``schema.detect``), renames keys to one spelling
(``schema.normalize``) and builds steps with each schema's rules:

- v1 (Dagu 1.17.4): steps need names; ``command`` as a list is argv; the
  chain type (the default) makes each step without ``depends`` follow the
  one before it, even when other steps have ``depends``.
- v2 (Dagu 2.6.5): steps may be strings or unnamed (named ``cmd_1``,
  ``script_2``, ``dag_3``... as Dagu does), ``command`` as a list is several
  command lines, a multi-line command is a script, ``exec:`` runs without a
  shell, ``defaults:`` apply to every step, a list inside ``steps`` is a
  group of parallel steps, and ``depends`` needs ``type: graph``.

Every problem found is kept; ``DagInvalid`` carries them all, each as
``file:line: message``.  Nothing from the DAG file is executed here.
"""
from __future__ import annotations

import os

from . import model, stepspec
from .checks import Checker, DagInvalid
from .schema import SchemaProblem, detect, normalize, server_notice, spelled
from .source import Mapping, Sequence, may_refer, merge, parse, parse_all, read_bytes
from ..errors import SourceError
from ..lazyregex import LazyPattern

TRACEEXEC_BASE_CONFIG = "TRACEEXEC_BASE_CONFIG"
"""Path of the base config laid under every DAG (default $XDG_CONFIG_HOME/traceexec/base.yaml)."""
MAX_DEPTH = 10
"""How deep ``run:``/``call:`` steps may nest DAGs (the outermost DAG is level 1)."""
STEP_ID = {model.V1: LazyPattern(r"^[a-zA-Z][a-zA-Z0-9_-]*$"),
           model.V2: LazyPattern(r"^[a-zA-Z][a-zA-Z0-9_]*$")}
RESERVED_IDS = ("env", "params", "args", "stdout", "stderr", "output", "outputs")


def find_base(flag, environ) -> str | None:
    """``--base``, else TRACEEXEC_BASE_CONFIG, else $XDG_CONFIG_HOME/traceexec/base.yaml if present."""
    if flag:
        return flag
    if environ.get(TRACEEXEC_BASE_CONFIG):
        return environ[TRACEEXEC_BASE_CONFIG]
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config")
    candidate = os.path.join(config_home, "traceexec", "base.yaml")
    return candidate if os.path.isfile(candidate) else None


def resolve_dag_file(text: str, directory: str) -> str | None:
    """The file a ``run:``/``call:`` value names, relative to ``directory``; ``.yaml``/``.yml``
    optional."""
    path = os.path.join(directory, os.path.expanduser(text.strip()))
    for candidate in (path, path + ".yaml", path + ".yml"):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def load(path: str, *, base: str | None = None, document: str | None = None,
         environ=None) -> model.Dag:
    """The validated DAG in ``path`` laid over ``base``; ``document`` picks a local DAG
    (a ``---`` document) by name; ``environ`` is the process's environment (default
    ``os.environ``; a copy as a plain dict reads faster: each pass over ``os.environ``
    decodes every variable again, 0.3 M instructions for 35 of them).  Raises DagInvalid."""
    path = os.path.abspath(path)
    environ = os.environ if environ is None else environ
    checker = Checker()
    try:
        data = read_bytes(path)
        documents = parse_all(path, data) or [Mapping((path, 1))]
        base_document = parse(os.path.abspath(base)) if base is not None else None
    except SourceError as error:
        raise DagInvalid([error]) from None
    for index, item in enumerate(documents):
        if not isinstance(item, Mapping):
            raise DagInvalid([SourceError("a DAG file is a mapping of keys like name: and "
                                          "steps:" + (" (document %d)" % (index + 1)
                                                      if index else ""), path, 1)])
    try:
        schema, _ = detect(documents)
        if isinstance(base_document, Mapping) and base_document:
            base_schema, evidence = detect([base_document])
            if evidence and base_schema != schema:
                raise SchemaProblem("the base config is written for Dagu %s, the DAG %s for "
                                    "Dagu %s" % (base_schema, os.path.basename(path), schema),
                                    evidence[0][2])
    except SchemaProblem as problem:
        raise DagInvalid([SourceError(problem.message, *problem.place)]) from None
    dags = []
    for index, item in enumerate(documents):
        if isinstance(base_document, Mapping):
            item = merge(base_document, item)
        dags.append(_dag(item, path, index, schema, checker))
    names = {}
    for dag in dags[1:]:
        if dag.name in names:
            checker.problem("duplicate DAG name %r in one file" % dag.name, (path, 1))
        names[dag.name] = dag
    for dag in dags:
        dag.local_dags = names
    # every text a step runs or names comes from the DAG file or the base config
    texts_may_refer = base is not None or may_refer(data)
    if not checker.problems:
        for dag in dags:
            _resolve_calls(dag, checker)
            _check_references(dag, checker, environ, texts_may_refer)
            _check_sizes(dag, checker, environ)
    if not checker.problems:
        check_nesting(dags[0], checker, [path])
    checker.raise_if_any()
    if document is not None:
        if document not in names:
            raise DagInvalid([SourceError("no DAG named %r in this file" % document, path, 1)])
        return names[document]
    return dags[0]


# -- the DAG ------------------------------------------------------------------------------

def _dag(document, path, index, schema, check) -> model.Dag:
    problems, notices = [], []
    doc = normalize(document, "dag", schema, problems, notices)
    for problem in problems:
        check.problem(problem.message, problem.place)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = check.string(doc, "name")
    if not name and index:
        check.problem("a DAG after --- needs a name:", document.place)
    dag = model.Dag(name=(name or stem).strip(), path=path, schema=schema, document=index)
    dag.notices.extend(server_notice(place, key) for place, key in notices)
    dag.description = check.string(doc, "description") or ""
    dag.type = check.choice(doc, "type", ("chain", "graph"), "chain")
    dag.params = check.params(doc, "params")
    dag.params_place = check.place(doc, "params")
    dag.env = check.env(doc, "env", dag.env_places)
    dotenv_dir = os.path.dirname(check.place(doc, "dotenv")[0] or path)
    dag.dotenv = [os.path.join(dotenv_dir, os.path.expanduser(p))
                  for p in check.string_list(doc, "dotenv")]
    dag.max_active_steps = check.integer(doc, "max_active_steps", 0)
    dag.timeout_s = check.duration(doc, "timeout_sec") or None
    dag.kill_after_s = check.duration(doc, "max_clean_up_time_sec")
    dag.processes = check.processes(doc, "processes")
    dag.lines = check.lines(doc, "lines")
    if "max_output_size" in doc:
        dag.max_output_size = check.integer(doc, "max_output_size", dag.max_output_size, 1)
    working_dir = check.string(doc, "working_dir")
    if working_dir:
        working_dir = working_dir.strip()
        if not (os.path.isabs(working_dir) or working_dir.startswith(("~", "$"))):
            working_dir = os.path.join(os.path.dirname(path), working_dir)
        dag.working_dir = working_dir
    dag.shell = check.words(doc, "shell")
    dag.preconditions = check.preconditions(doc.get("preconditions"),
                                            check.place(doc, "preconditions"), schema)
    dag.preconditions += check.preconditions(doc.get("precondition"),
                                             check.place(doc, "precondition"), schema)
    if "schedule" in doc:
        from . import schedules  # cron lines: only for a DAG that has them
        dag.schedule = schedules.read(doc, "schedule", check)
        dag.notices.append("%s: schedule is checked, not scheduled: traceexec runs one DAG run "
                           "per invocation (schedule with cron)" % check.where(doc, "schedule"))
    if "otel" in doc:
        dag.otel = _otel(doc, schema, check)
    if "ssh" in doc:  # v2: the default of every ssh step (traceexec/remote)
        from ..remote.dagstep import dag_target
        dag.ssh = dag_target(doc, check)
    defaults = stepspec.read_defaults(doc, schema, check) if schema == model.V2 else None
    _steps(doc, dag, schema, check, defaults)
    _handlers(doc, dag, schema, check, defaults)
    return dag


def _otel(doc, schema, check):
    otel = doc["otel"]
    if not isinstance(otel, Mapping):
        check.problem("otel must be a mapping (enabled, endpoint, headers, ...)",
                      check.place(doc, "otel"))
        return None
    problems = []
    normalize(otel, "otel", model.V2, problems, [])   # otel keys are the same, exact, in both
    for problem in problems:
        check.problem(problem.message, problem.place)
    check.boolean(otel, "enabled")
    check.boolean(otel, "insecure")
    for key in ("headers", "resource"):
        if key in otel and not isinstance(otel[key], Mapping):
            check.problem("otel.%s must be a mapping" % key, check.place(otel, key))
    return otel


def _steps(doc, dag, schema, check, defaults):
    value = doc.get("steps")
    if value is None:
        check.problem("a DAG needs steps:", doc.place)
        return
    names = set()
    built = []           # (step, group index, explicit depends given)
    if isinstance(value, Mapping):
        for name in sorted(value, key=str):
            step = stepspec.build(value[name], value.place_of(name), dag, schema, check,
                                  defaults, len(built), names, forced_name=str(name))
            if step is not None:
                built.append((step, len(built), step.depends_given))
    elif isinstance(value, Sequence):
        built = stepspec.build_sequence(value, dag, schema, check, defaults, names)
    else:
        check.problem("steps must be a list of steps", check.place(doc, "steps"))
        return
    dag.steps = [step for step, _, _ in built]
    _check_names(dag, check)
    _resolve_depends(dag, built, schema, check, isinstance(value, Mapping))


def _check_names(dag, check):
    seen = {}
    ids = {}
    for step in dag.steps:
        if step.name in seen:
            check.problem("duplicate step name %r (first at %s:%s)"
                          % (step.name, *seen[step.name]), step.place)
        else:
            seen[step.name] = step.place
        if step.id is None:
            continue
        if not STEP_ID[dag.schema].match(step.id):
            check.problem("step id %r must match %s" % (step.id, STEP_ID[dag.schema].pattern),
                          step.place)
        elif step.id.lower() in RESERVED_IDS:
            check.problem("step id %r is a reserved word" % step.id, step.place)
        if step.id in ids:
            check.problem("duplicate step id %r (first at %s:%s)" % (step.id, *ids[step.id]),
                          step.place)
        ids[step.id] = step.place
    for step in dag.steps:
        if step.id and step.id in seen and step.id != step.name and \
                dag.step(step.id) is not step:
            check.problem("step id %r is another step's name" % step.id, step.place)


def _resolve_depends(dag, built, schema, check, from_map):
    by_label = {}
    for step in dag.steps:
        by_label.setdefault(step.name, step.name)
        if step.id:
            by_label.setdefault(step.id, step.name)
    raw_depends = {}
    for step in dag.steps:
        raw_depends[step.name] = step.depends
        step.depends = []
    if schema == model.V2 and dag.type == "chain":
        for step in dag.steps:
            if step.depends_given:
                check.problem("step %r: depends is not allowed in a chain DAG; add type: graph"
                              % step.name, step.depends_place)
    previous_group, current_group, current_index = [], [], None
    for step, group_index, given in built:
        if group_index != current_index:
            previous_group, current_group, current_index = current_group, [], group_index
        for label in raw_depends[step.name]:
            if label in by_label:
                if by_label[label] not in step.depends:
                    step.depends.append(by_label[label])
            else:
                check.problem("step %r depends on unknown step %r%s" % (
                    step.name, label, suggestion(label, list(by_label))),
                    step.depends_place)
        if dag.type == "chain" and not (from_map and schema == model.V2) and not given \
                and previous_group:
            step.depends.extend(p.name for p in previous_group if p.name not in step.depends)
        current_group.append(step)
    if check.problems:
        return
    graph = {s.name: s.depends for s in dag.steps}
    if not has_cycle(graph):
        return
    import graphlib  # its import (with types) is 2.6 M instructions: for the cycle's text only
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        loop = list(reversed(error.args[1]))
        check.problem("dependency cycle: %s" % " -> ".join(loop), dag.step(loop[0]).place)


def has_cycle(graph) -> bool:
    """Whether ``graph`` (each name: the names it depends on) has a dependency cycle: the
    names that can be ordered are taken off, those with nothing left to wait for first
    (Kahn's algorithm); any left over are on or behind a cycle.
    Example: ``has_cycle({"a": ["b"], "b": ["a"]}) is True``."""
    # Most files list a step after the steps it depends on: one pass that finds each
    # dependency among the names before it proves there is no cycle (0.2 k instructions a
    # step where Kahn's dictionaries and lists cost 3 k).
    before = set()
    for name, depends in graph.items():
        for depend in depends:
            if depend not in before and depend in graph:
                break
        else:
            before.add(name)
            continue
        break
    else:
        return False
    waits = dict.fromkeys(graph, 0)
    followers = {name: [] for name in graph}
    for name, depends in graph.items():
        for depend in depends:
            if depend in followers:  # a name outside the graph waits for nothing
                waits[name] += 1
                followers[depend].append(name)
    ready = [name for name, count in waits.items() if not count]
    ordered = 0
    while ready:
        ordered += 1
        for follower in followers[ready.pop()]:
            waits[follower] -= 1
            if not waits[follower]:
                ready.append(follower)
    return ordered < len(waits)


def _handlers(doc, dag, schema, check, defaults):
    value = doc.get("handler_on")
    if value is None:
        return
    if not isinstance(value, Mapping):
        check.problem("%s must map events to a step" % spelled(doc, "handler_on"),
                      check.place(doc, "handler_on"))
        return
    problems = []
    section = normalize(value, "handler_on", schema, problems, [])
    for problem in problems:
        check.problem(problem.message, problem.place)
    names = (model.HANDLER_NAMES if schema == model.V1 else model.V2_HANDLER_NAMES)
    for event in model.HANDLER_EVENTS:
        if event not in section:
            continue
        step = stepspec.build(section[event], section.place_of(event), dag, schema, check,
                              defaults, 0, set(), forced_name=names[event])
        if step is not None:
            step.depends = []
            dag.handlers[event] = step
    if "wait" in dag.handlers:
        dag.notices.append("%s: handler_on.wait runs when a run waits for approval; traceexec "
                           "runs never wait" % check.where(section, "wait"))


def suggestion(word, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, else empty."""
    import difflib  # only for a message
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return " (did you mean %r?)" % close[0] if close else ""


# -- references ---------------------------------------------------------------------------

def _step_texts(step):
    texts = [step.command, step.script, step.stdout, step.stderr, step.dir]
    # each part read only when the step has it: most steps have a command alone
    if step.commands or step.argv or step.interpreter:
        texts += step.commands + (step.argv or []) + (step.interpreter or [])
    if step.env or step.params:
        texts += [v for _, v in step.env] + [v for _, v in step.params]
    if step.preconditions:
        texts += [c.condition for c in step.preconditions]
        texts += [c.expected for c in step.preconditions if c.expected]
    if step.repeat.condition is not None:
        texts.append(step.repeat.condition.condition)
    if step.parallel is not None and step.parallel.variable:
        texts.append(step.parallel.variable)
    if step.outputs:
        texts += [str(entry.value) for entry in step.outputs.values() if entry.literal]
    return texts  # with None for a field not given


def _check_sizes(dag, check, environ):
    """No params default, env entry or step env entry may expand beyond ``bounds``."""
    from .bounds import Budget
    budget = Budget(environ)
    params = [(n, v, dag.params_place) for n, v in dag.params if n is not None]
    if not budget.check(params + list(zip((n for n, _ in dag.env), (v for _, v in dag.env),
                                          dag.env_places)), check.problem):
        return
    for step in list(dag.steps) + list(dag.handlers.values()):
        if not step.env:
            continue  # nothing of its own to expand (most steps)
        entries = [(n, v, p) for (n, v), p in zip(step.env, step.env_places)]
        if not budget.check(entries, check.problem, dict(budget.lengths)):
            return


def _check_references(dag, check, environ, texts_may_refer=True):
    """``${NAME.path}`` naming no step, variable or environment variable is an error now,
    rather than a shell's "Bad substitution" later.  ``texts_may_refer`` False: no text
    of the DAG can have one (``source.may_refer``), and the steps are not read."""
    from .variables import load_dotenv, references
    known = set(environ) | {"DAG_NAME", "DAG_RUN_ID", "ITEM"}
    known |= {name for name, _ in dag.params if name} | {name for name, _ in dag.env}
    known |= set(load_dotenv(dag.dotenv))
    if not texts_may_refer:
        return
    steps = list(dag.steps) + list(dag.handlers.values())
    # the texts with a reference, in order (references() finds none in the others); most
    # DAGs have none, and then the names the steps define are never needed
    referring = [(step, text) for step in steps for text in _step_texts(step)
                 if isinstance(text, str) and "${" in text]
    if not referring:
        return
    for step in steps:
        known.add(step.name)
        if step.id:
            known.add(step.id)
        if step.output:
            known.add(step.output)
        if step.env:
            known.update(name for name, _ in step.env)
    for step, text in referring:
        for name in references(text):
            if name not in known and not name.isdigit():
                check.problem("step %r: ${%s...}: no variable or step named %s" % (
                    step.name, name, name), step.place)
                known.add(name)  # one message per name


# -- sub-DAGs -----------------------------------------------------------------------------

def _resolve_calls(dag, check):
    for step in list(dag.steps) + list(dag.handlers.values()):
        if step.call is None or "$" in step.call:
            continue
        if step.call in dag.local_dags:
            continue
        step.call_path = resolve_dag_file(step.call, dag.directory)
        if step.call_path is None:  # as in Dagu (v1.17.4 and v2.6.5), the step fails
            dag.notices.append("%s:%s: sub-DAG not found: %s (no file, and no DAG of that "
                               "name after ---): step %r will fail" % (
                                   dag.path, step.call_line, step.call, step.name))


def check_nesting(dag, checker, stack):
    """Refuse a DAG that runs itself through ``run:``/``call:`` steps, and nesting past
    MAX_DEPTH.  Follows files statically (only their steps' call keys are read)."""
    for step in dag.steps:
        if step.call_path is None:
            continue
        _follow(step.call_path, (dag.path, step.call_line), checker, stack)


def _follow(path, place, checker, stack):
    real = os.path.realpath(path)
    if real in [os.path.realpath(p) for p in stack]:
        names = [os.path.basename(p) for p in stack] + [os.path.basename(path)]
        checker.problem("DAG runs itself: %s" % " -> ".join(names), place)
        return
    if len(stack) >= MAX_DEPTH:
        checker.problem("nested DAGs deeper than %d levels: %s" % (
            MAX_DEPTH, " -> ".join(os.path.basename(p) for p in stack + [path])), place)
        return
    try:
        document = parse(path)
    except SourceError as error:
        checker.problems.append(error)
        return
    steps = document.get("steps") if isinstance(document, Mapping) else None
    for item in (steps if isinstance(steps, Sequence) else []):
        if not isinstance(item, Mapping):
            continue
        for key in ("run", "call"):
            target_text = item.get(key)
            if not isinstance(target_text, str) or "$" in target_text:
                continue
            target = resolve_dag_file(target_text, os.path.dirname(path))
            if target is not None:
                _follow(target, item.place_of(key), checker, stack + [path])
