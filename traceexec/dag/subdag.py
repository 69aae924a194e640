"""A step that runs a DAG: ``run:`` (v1) / ``call:`` (v2), once or fanned out with
``parallel``.

Each sub-DAG is ``traceexec run`` in a child process (its ``DAG:`` span nests
under the step's span through TRACEPARENT); it writes its result where the
step tells it (``TRACEEXEC_DAG_RESULT``).  The step's stdout becomes Dagu's
result document (name, dagRunId, params, outputs, status), or the aggregate of a
fan-out (summary, results, outputs), and its status the sub-DAGs'.
"""
from __future__ import annotations

import json
import os

from . import model
from .step import Fan, Run, StepFailed, allow
from .variables import evaluate, expand, parse_params

def _items(step, values):
    parallel = step.parallel
    if parallel.variable is not None:
        text = evaluate(parallel.variable, values).strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except ValueError:
                raise StepFailed("parallel: %s is not a JSON list" % parallel.variable) from None
            return [v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                    for v in raw]
        if text.startswith("{"):
            return [text]
        sep = "\n" if "\n" in text else ("," if "," in text else None)
        return [w.strip() for w in text.split(sep) if w.strip()]
    items = []
    for item in parallel.items or []:
        if isinstance(item, dict):
            items.append(json.dumps({k: expand(str(v), values) for k, v in item.items()},
                                    separators=(",", ":")))
        else:
            items.append(expand(str(item), values))
    return items


def child_params(text) -> list:
    """Params for a sub-DAG: ``K=V`` words, or a JSON object of them."""
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            return [(str(k), v if isinstance(v, str) else json.dumps(v))
                    for k, v in document.items()]
    try:
        return parse_params(text)
    except ValueError as error:
        raise StepFailed("params: %s" % error) from None


def _params_for(step, values, views) -> tuple:
    """The step's params for the sub-DAG, split before values go in: each value is
    evaluated once and stays one param, whatever it holds."""
    pairs = step.params
    if len(pairs) == 1 and pairs[0][0] is None and pairs[0][1].strip().startswith("{"):
        pairs = child_params(pairs[0][1])
    return tuple((n, evaluate(v, values, steps=views)) for n, v in pairs)


def _shown(params) -> str:
    """Params as the result document shows them (``K=V K2=V2``)."""
    if isinstance(params, str):
        return params
    return " ".join("%s=%s" % (n, v) if n else v for n, v in params)


def call(run, result, values, env, cwd):
    """``run:``/``call:``: the sub-DAG (or one per ``parallel`` item) as child processes.

    Each child is ``traceexec run``, so its ``DAG:`` span nests under this step's
    span through TRACEPARENT.  The step's stdout is the child's result as Dagu
    prints it (name, dagRunId, params, outputs, status), or the aggregate of a
    fan-out (summary, results, outputs).
    """
    step = result.step
    target = run.resolve_call(step, values)
    runs = []
    if step.parallel is None:
        specs = [(_params_for(step, values, run.views), None)]
    else:
        specs = []
        seen = set()
        for item in _items(step, values):
            local = dict(values, ITEM=item)
            params = _params_for(step, local, run.views) if step.params else item
            if params not in seen:
                seen.add(params)
                specs.append((params, item))
        if not specs:
            raise StepFailed("parallel: no items")
        if len(specs) > 1000:
            raise StepFailed("parallel: %d items, at most 1000" % len(specs))
    sinks = run.open_sinks(result, values, cwd)
    try:
        children = []
        for params, _ in specs:
            child_id = run.new_child_run_id()
            result_path = os.path.join(run.run_dir, "%s.%s.result.json" % (
                os.path.basename(result.logs["stdout"])[:-4], child_id))
            pairs = child_params(params) if isinstance(params, str) else list(params)
            argv, child_env = run.child_command(target, pairs, env(), child_id,
                                                result_path)
            runs.append(Run(argv, child_env, cwd, sinks, step.timeout_s))
            children.append((child_id, _shown(params), result_path))
        if len(runs) == 1 and step.parallel is None:
            outcomes = [(yield runs[0])]
        else:
            limit = step.parallel.max_concurrent if step.parallel else 1
            outcomes = yield Fan(runs, limit)
        if run.stopping or any(o is None for o in outcomes):
            result.status, result.reason = model.CANCELLED, run.cancel_reason
            return
        reports = []
        for (child_id, params, path), outcome in zip(children, outcomes):
            report = _read_report(path, target, child_id, params, outcome)
            reports.append(report)
            result.attempts.append(model.Attempt(len(result.attempts) + 1, outcome.start_ns,
                                                 outcome.end_ns, outcome.exit_status,
                                                 outcome.error_type))
        result.outcome = outcomes[-1]
        result.argv = runs[-1].argv
        result.children = reports
        _judge_children(run, result, reports, sinks)
    finally:
        for sink in sinks.values():
            sink.close()


def _read_report(path, target, child_id, params, outcome) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        os.unlink(path)
    except (OSError, ValueError):
        report = {"name": os.path.splitext(os.path.basename(str(target)))[0],
                  "dagRunId": child_id, "status": "failed",
                  "error": "the sub-DAG ended without a result (%s)" % (
                      outcome.description or "exit status %d" % outcome.exit_status)}
    report.setdefault("params", params)
    return report


def _judge_children(run, result, reports, sinks):
    succeeded = [r for r in reports if r.get("status") in ("succeeded", "partially_succeeded")]
    partial = any(r.get("status") == "partially_succeeded" for r in reports)
    if result.step.parallel is None:
        document = {k: reports[0][k] for k in ("name", "dagRunId", "params", "outputs",
                                               "status") if reports[0].get(k) not in (None, {})}
    else:
        document = {"summary": {"total": len(reports), "succeeded": len(succeeded),
                                "failed": len(reports) - len(succeeded)},
                    "results": reports,
                    "outputs": [r["outputs"] for r in succeeded if r.get("outputs")]}
    text = json.dumps(document, indent=2)
    # the step's log and output hold the result, as Dagu's do; the terminal shows the
    # sub-DAG's own steps, not this document
    sinks["stdout"].feed((text + "\n").encode(), show=False)
    result.output = text  # also what ${step.outputs.KEY} reads
    if len(succeeded) < len(reports):
        failed = next(r for r in reports if r not in succeeded)
        result.status = model.FAILED
        result.reason = "sub-DAG %s run %s %s" % (failed.get("name"), failed.get("dagRunId"),
                                                  failed.get("status"))
        result.exit_code_override = 1 if result.exit_code == 0 else None
        allow(run, result, sinks)
    elif partial:
        result.status = model.PARTIALLY_SUCCEEDED
    else:
        result.status = model.SUCCEEDED
