"""wrap.command: the process attributes of a finished command."""
from traceexec.wrap import command, redact
from traceexec.wrap.supervise import Outcome


def test_redacted_arguments_equal_redact_args_and_are_fresh_lists():
    cases = [(["curl", "--token", "abc", "https://u:pw@h/p"], (), True),
             (["curl", "--token", "abc"], (), False),
             (["tool", "id=42", "x"], ("id=[0-9]+",), True),
             (["sh", "-c", "PASSWORD=x make"], (), True),
             ([], (), True)]
    for _ in range(2):  # the second time from the cache
        for argv, patterns, enabled in cases:
            got = command.redacted_arguments(argv, patterns, enabled)
            assert got == redact.redact_args(argv, patterns, enabled)
            got.append("changed")  # the caller's own list: the cache is not changed
    for argv, patterns, enabled in cases:
        assert command.redacted_arguments(argv, patterns, enabled) == redact.redact_args(
            argv, patterns, enabled)


def test_redacted_arguments_cache_is_bounded():
    for i in range(command.REDACTED_KEPT * 3):
        assert command.redacted_arguments(["tool", "--password", str(i)]) == [
            "tool", "--password", redact.MASK]
        assert len(command._redacted) <= command.REDACTED_KEPT


def test_process_attributes_twice_alike():
    outcome = Outcome(exit_status=0)
    first = command.process_attributes(outcome, ["curl", "--token", "abc"], cwd="/")
    second = command.process_attributes(outcome, ["curl", "--token", "abc"], cwd="/")
    assert first == second
    assert first["process.command_args"] == ["curl", "--token", redact.MASK]
    assert first["process.command_args"] is not second["process.command_args"]
