"""dag.spans: a step's command line, redacted once and kept."""
from traceexec.dag import spans
from traceexec.wrap import command, redact
from traceexec.wrap.supervise import Outcome

CASES = [["curl", "--token", "abc", "https://u:pw@h/p"], ["sh", "-c", "PASSWORD=x make"],
         ["/bin/true"], []]


def test_redacted_arguments_equal_redact_args_and_are_fresh_lists():
    for _ in range(2):  # the second time from what is kept
        for argv in CASES:
            got = spans.redacted_arguments(argv)
            assert got == redact.redact_args(argv)
            got.append("changed")  # the caller's own list: what is kept does not change
    for argv in CASES:
        assert spans.redacted_arguments(argv) == redact.redact_args(argv)


def test_redacted_arguments_keeps_a_bounded_number():
    for i in range(spans.REDACTED_KEPT * 3):
        assert spans.redacted_arguments(["tool", "--password", str(i)]) == [
            "tool", "--password", redact.MASK]
        assert len(spans._redacted) <= spans.REDACTED_KEPT


def test_process_attributes_with_arguments_redacted_before_say_the_same():
    outcome = Outcome(exit_status=0)
    argv = ["curl", "--token", "abc"]
    assert command.process_attributes(outcome, argv, cwd="/") == command.process_attributes(
        outcome, argv, cwd="/", args=spans.redacted_arguments(argv))


def test_seconds_is_round_of_the_float():
    """spans.seconds against round(ns / 1e9, 6): ties, their neighbours, the limits,
    negatives, floats and 240,000 random durations of every size."""
    import random
    draw = random.Random(26)
    cases = [0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 149_554_123, 10 ** 15 - 1,
             10 ** 15, 10 ** 15 + 501, 2 ** 63, -1, -500, -1501, 2.5, 1e9, True]
    for digits in range(1, 16):
        for _ in range(4_000):
            base = draw.randrange(10 ** digits)
            cases += [base, base - base % 1000 + 500, base - base % 1000 + 499,
                      base - base % 1000 + 501]
    for ns in cases:
        assert spans.seconds(ns) == round(ns / 1e9, 6), ns
        assert repr(spans.seconds(ns)) == repr(round(ns / 1e9, 6)), ns
