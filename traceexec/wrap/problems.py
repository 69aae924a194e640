"""Why a command could not be started.

A module of its own so that the class is made only when a command cannot be started
(``supervise`` finds it here on first use, and its name is found there too).
"""


class CommandProblem(Exception):
    """The command could not be started; ``exit_status`` is 126 or 127."""

    def __init__(self, message: str, exit_status: int, error_type: str):
        super().__init__(message)
        self.exit_status = exit_status
        self.error_type = error_type
