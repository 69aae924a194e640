"""dag.progress: a step's end line, the common case written in one format."""
import itertools

from traceexec.dag import model, progress
from traceexec.dag.model import Attempt, Step, StepResult
from traceexec.wrap.supervise import Outcome


def test_describe_says_what_the_general_form_says():
    statuses = [model.SUCCEEDED, model.FAILED, model.SKIPPED, model.CANCELLED,
                model.PARTIALLY_SUCCEEDED]
    outcomes = [None, Outcome(exit_status=0), Outcome(exit_status=3)]
    attempts = [[], [Attempt(1, 0, 5, 0)], [Attempt(1, 0, 5, 1), Attempt(2, 6, 9, 0)]]
    seen = set()
    for status, outcome, tries, reason, allowed, override, schema, end in itertools.product(
            statuses, outcomes, attempts, ["", "upstream step 'x' failed"], [False, True],
            [None, 124], [None, "v1", "v2"], [0, 123_456_789, 5_005_000_000]):
        result = StepResult(step=Step(name="s \u00e9"), span_id="ab" * 8, status=status,
                            start_ns=1_000, end_ns=end, outcome=outcome, attempts=tries,
                            reason=reason, failure_allowed=allowed,
                            exit_code_override=override)
        text = progress.describe(result, schema)
        assert text == progress._described(result, schema)
        seen.add(text)
    assert "s \u00e9 succeeded (0.12s, exit 0)" in seen
