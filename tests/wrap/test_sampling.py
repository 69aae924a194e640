"""OTEL_TRACES_SAMPLER and _ARG: the sampled flag of a new span, as the SDK samplers decide it."""
import pytest

from traceexec.delivery.config import Reader
from traceexec.wrap import context, sampling

LOW_ID = "0" * 16 + "0" * 15 + "1"      # low 64 bits: 1, under any ratio above 0
HIGH_ID = "0" * 16 + "f" * 16           # low 64 bits: the largest


def _sampler(**environ):
    problems = []
    return sampling.read_sampler(Reader(environ, problems)), problems


@pytest.mark.parametrize("environ,trace_id,parent_flags,sampled,warned", [
    ({}, LOW_ID, None, True, False),
    ({}, LOW_ID, 0, False, False),
    ({"OTEL_TRACES_SAMPLER": "always_off"}, LOW_ID, 1, False, False),
    ({"OTEL_TRACES_SAMPLER": "ALWAYS_ON"}, LOW_ID, 0, True, False),
    ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, LOW_ID, None, False, False),
    ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, LOW_ID, 1, True, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, LOW_ID, None,
     True, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, HIGH_ID, None,
     False, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, LOW_ID, 1,
     False, False),
    ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
     LOW_ID, 1, True, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, HIGH_ID, None,
     True, True),
    ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, LOW_ID, None, True, True),
])
def test_sampler_table(environ, trace_id, parent_flags, sampled, warned):
    sampler, problems = _sampler(**environ)
    parent = None if parent_flags is None else context.SpanContext(trace_id, "1" * 16,
                                                                   parent_flags)
    assert sampler.is_sampled(trace_id, parent) is sampled
    assert bool(problems) is warned


def test_ratio_samples_about_that_share_of_new_traces():
    sampler = sampling.Sampler("traceidratio", 0.25)
    sampled = sum(sampler.is_sampled(context.new_trace_id(), None) for _ in range(4000))
    assert 800 < sampled < 1200  # 1000 expected; the bounds are 6 standard deviations


@pytest.mark.parametrize("parent_flags", [None, 0, 1])
def test_the_wrapper_without_a_sampler_variable_samples_as_the_default(parent_flags):
    # the wrapper does not import sampling then (start-up cost, issue 26): no sampler
    # must decide as parentbased_always_on does
    from traceexec.wrap.command import export_config
    assert export_config({}, {"TRACEEXEC_HOME": "/nonexistent"})[1] is None
    parent = None if parent_flags is None else context.SpanContext(LOW_ID, "1" * 16,
                                                                   parent_flags)
    incoming = context.Incoming(parent, None, None, [])
    for _ in range(20):
        ctx = context.start_span_context(incoming, None)
        assert ctx.is_sampled is sampling.Sampler().is_sampled(ctx.trace_id, parent)
