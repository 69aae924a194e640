"""Views of a DAG that execute nothing: the dependency graph (text, Mermaid) and the
dry-run plan, which names every path outside the DAG's directory."""
from __future__ import annotations

import os

from .commands import describe
from .variables import expand


def levels(dag) -> dict:
    """Step name -> its depth in the graph (0 for steps without dependencies)."""
    depth = {}
    for step in dag.steps:  # steps are validated acyclic; resolve depth by recursion
        _depth(dag, step.name, depth)
    return depth


def _depth(dag, name, depth):
    if name not in depth:
        deps = dag.step(name).depends
        depth[name] = 1 + max((_depth(dag, d, depth) for d in deps), default=-1)
    return depth[name]


def ordered(dag) -> list:
    depth = levels(dag)
    index = {s.name: i for i, s in enumerate(dag.steps)}
    return sorted(dag.steps, key=lambda s: (depth[s.name], index[s.name]))


def _label(step, dag) -> str:
    if step.call is not None:
        target = os.path.relpath(step.call_path, dag.directory) if step.call_path else step.call
        return "%s (%s %s)" % (step.name, "run" if dag.schema == "v1" else "call", target)
    return step.name


def text(dag) -> str:
    lines = ["%s (%s, %d step%s)" % (dag.name, dag.type, len(dag.steps),
                                     "" if len(dag.steps) == 1 else "s")]
    steps = ordered(dag)
    width = max((len(_label(s, dag)) for s in steps), default=0)
    for step in steps:
        after = "  <- " + ", ".join(step.depends) if step.depends else ""
        lines.append("  %s%s" % (_label(step, dag).ljust(width) if after else _label(step, dag),
                                 after))
    for event, step in dag.handlers.items():
        lines.append("  on %s: %s" % (event, step.name))
    return "\n".join(lines) + "\n"


def mermaid(dag) -> str:
    ids = {s.name: "s%d" % i for i, s in enumerate(dag.steps)}
    lines = ["flowchart TD"]
    for step in dag.steps:
        label = _label(step, dag).replace('"', "#quot;")
        shape = '[["%s"]]' if step.call is not None else '["%s"]'
        lines.append("    %s%s" % (ids[step.name], shape % label))
    for step in dag.steps:
        for dep in step.depends:
            lines.append("    %s --> %s" % (ids[dep], ids[step.name]))
    return "\n".join(lines) + "\n"


def _command_text(step, dag, scope) -> str:
    text = describe(step, dag)
    if step.argv is not None:
        return " ".join(expand(w, scope.values, positional=scope.positional) for w in step.argv)
    return text


def outside_paths(dag, scope) -> list:
    """(what, absolute path) for every path the DAG touches outside its directory."""
    home = os.path.realpath(dag.directory)
    found = []

    def note(what, path):
        real = os.path.realpath(path)
        if real != home and not real.startswith(home + os.sep):
            found.append((what, real))

    for path in dag.dotenv:
        note("dotenv", path)
    base_dir = dag.working_dir or os.getcwd()
    if dag.working_dir:
        note("working directory", dag.working_dir)
    for step in dag.steps + list(dag.handlers.values()):
        cwd = os.path.join(base_dir, expand(step.dir, scope.values)) if step.dir else base_dir
        if step.dir:
            note("step %r dir" % step.name, cwd)
        for key in ("stdout", "stderr"):
            if getattr(step, key):
                note("step %r %s" % (step.name, key),
                     os.path.join(cwd, expand(getattr(step, key), scope.values)))
        if step.call_path:
            note("step %r %s" % (step.name, "run" if dag.schema == "v1" else "call"),
                 step.call_path)
        program = step.argv[0] if step.argv else (
            step.command.split()[0] if step.command and step.command.split() else None)
        if program and "/" in program:
            note("step %r program" % step.name, os.path.join(cwd, program))
    return found


def dry_run(dag, scope) -> str:
    lines = ["%s: dry run, nothing executed (%d step%s)" % (
        dag.name, len(dag.steps), "" if len(dag.steps) == 1 else "s")]
    for number, step in enumerate(ordered(dag), 1):
        after = " (after %s)" % ", ".join(step.depends) if step.depends else ""
        lines.append("  %d. %s%s: %s" % (number, step.name, after,
                                          _command_text(step, dag, scope)))
    for event, step in dag.handlers.items():
        lines.append("  on %s: %s: %s" % (event, step.name, _command_text(step, dag, scope)))
    outside = outside_paths(dag, scope)
    if outside:
        lines.append("paths outside %s:" % dag.directory)
        lines.extend("  %s: %s" % item for item in outside)
    else:
        lines.append("no paths outside %s" % dag.directory)
    return "\n".join(lines) + "\n"
