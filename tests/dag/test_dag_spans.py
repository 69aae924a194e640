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
