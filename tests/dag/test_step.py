"""dag.step.environment: a step's process environment, built afresh each call."""
from collections import ChainMap

from traceexec.dag.step import environment
from traceexec.wrap import context

T = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_step_environment_merges_its_layers_and_carries_the_steps_context():
    incoming = context.read_environment({})
    span = context.SpanContext(T, "00f067aa0ba902b7", 1)
    inherited = {"PATH": "/bin", "A": "inherited", "TRACEPARENT": "old"}
    step = {"A": "step"}
    for values in (ChainMap(step, inherited), dict(inherited, **step)):
        env = environment(values, span, incoming)
        first, second = env(), env()
        assert first == {"PATH": "/bin", "A": "step", "TRACEPARENT": span.traceparent()}
        assert first == second and first is not second
        first["A"] = "changed"  # each call's own dict: the layers stay as they were
        assert inherited == {"PATH": "/bin", "A": "inherited", "TRACEPARENT": "old"}
        assert step == {"A": "step"} and env()["A"] == "step"
