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


def test_the_run_log_has_a_stamped_line_a_record_even_quiet(tmp_path):
    """Two lines a step in the run's log, quiet or not; a name that UTF-8 cannot encode
    (a lone surrogate) is written with '?', as encode's "replace" writes it."""
    import io
    import re
    import time
    shown = io.BytesIO()
    p = progress.Progress("d", err=shown, is_tty=False, quiet=True)
    p.log_path = str(tmp_path / "dag.log")
    names = ["s1", "caf\u00e9", "caf\udce9"]
    for name in names:
        result = StepResult(step=Step(name=name), span_id="ab" * 8, status=model.SUCCEEDED,
                            start_ns=1_000, end_ns=123_456_789, outcome=Outcome(exit_status=0))
        before = int(time.time())
        p.started(name)
        p.finished(result)
        after = int(time.time())
    p.close()
    lines = (tmp_path / "dag.log").read_bytes().split(b"\n")
    assert lines[-1] == b"" and shown.getvalue() == b""
    expected = []
    for name in names:
        expected += ["%s started" % name, "%s succeeded (0.12s, exit 0)" % name]
    stamps = {time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(s))
              for s in range(before - 5, after + 1)}
    for line, text in zip(lines[:-1], expected, strict=True):
        stamp, _, rest = line.partition(b" ")
        assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stamp)
        assert stamp.decode() in stamps
        assert rest == text.encode("utf-8", "replace")
