"""Head sampling as OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG configure it: the
sampled flag of a new span, and so of the TRACEPARENT its command gets.

Standard library only: on the wrapper's start-up path.
"""

OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
"""always_on, always_off, traceidratio, parentbased_always_on (default),
parentbased_always_off, parentbased_traceidratio."""
OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
"""The ratio (0 to 1) of the traceidratio samplers; default 1."""
SAMPLERS = ("always_on", "always_off", "traceidratio")
_ID_LIMIT = 1 << 64


class Sampler:
    """Decides the sampled flag of a new span, as the SDK samplers of the same names.

    >>> Sampler("parentbased_always_off").is_sampled("4bf92f3577b34da6a3ce929d0e0e4736", None)
    False
    """

    def __init__(self, name: str = "parentbased_always_on", ratio: float = 1.0):
        self.name = name
        self.ratio = ratio

    def is_sampled(self, trace_id: str, parent) -> bool:
        root = self.name
        if root.startswith("parentbased_"):
            if parent is not None:
                return parent.is_sampled
            root = root[len("parentbased_"):]
        if root == "always_on":
            return True
        if root == "always_off":
            return False
        # traceidratio: the trace id's low 64 bits against the ratio's share of them
        return int(trace_id[16:], 16) < round(self.ratio * _ID_LIMIT)


def read_sampler(reader) -> Sampler:
    """OTEL_TRACES_SAMPLER and _ARG from a ``config.Reader``; what cannot be used is
    warned there and the default (parentbased_always_on) kept."""
    name = (reader.get(OTEL_TRACES_SAMPLER) or "parentbased_always_on").lower()
    if name not in SAMPLERS and not (name.startswith("parentbased_")
                                     and name[len("parentbased_"):] in SAMPLERS):
        reader.problems.append("%s=%s is not supported (always_on, always_off, traceidratio, "
                               "parentbased_*): parentbased_always_on used"
                               % (OTEL_TRACES_SAMPLER, name[:64]))
        return Sampler()
    ratio = 1.0
    if name.endswith("traceidratio"):
        raw = reader.get(OTEL_TRACES_SAMPLER_ARG)
        if raw is not None:
            try:
                ratio = float(raw)
            except ValueError:
                ratio = -1.0
            if not 0.0 <= ratio <= 1.0:
                reader.problems.append("%s=%s is not a ratio from 0 to 1: 1 used"
                                       % (OTEL_TRACES_SAMPLER_ARG, raw[:64]))
                ratio = 1.0
    return Sampler(name, ratio)
