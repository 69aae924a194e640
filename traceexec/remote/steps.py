"""A DAG step with the ssh or http executor: its processes, rewritten.

The DAG driver calls ``apply`` once the step's invocation is built (commands
resolved), before anything runs, and ``span_attributes`` after each process."""

from .httpstep import HttpRequest, report_path, request_argvs


def apply(remote, invocation, env: dict, shell, tail, settings_path: str) -> None:
    """Rewrite ``invocation`` for ``remote`` (an SshTarget or an HttpRequest);
    raises dag.step.StepFailed when the command cannot be sent."""
    if isinstance(remote, HttpRequest):
        try:
            invocation.argvs, text = request_argvs(remote, invocation.argvs, settings_path,
                                                   shell, tail)
        except ValueError as problem:
            from ..dag.step import StepFailed
            raise StepFailed(str(problem)) from None
        invocation.script_path, invocation.script_text = settings_path, text
        return
    from .dagstep import remote_argv
    invocation.argvs = [remote_argv(remote, argv, env, shell, tail)
                        for argv in invocation.argvs]


def span_attributes(remote, settings_path: str) -> dict:
    """What the step's last process adds to the step span: an http request's
    attributes (``httpspan``); nothing for ssh."""
    if not isinstance(remote, HttpRequest):
        return {}
    from .httpspan import read_report
    return read_report(report_path(settings_path))
