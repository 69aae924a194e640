"""Dagu 2's new spelling of each Dagu 1 key, for messages about a v1 key in a v2 file.

Taken from the renames Dagu 2.x itself suggests when it refuses a camelCase key
(v2.6.5 ``internal/core/spec/key_hints.go``), limited to the keys traceexec reads.
"""

LEGACY_TO_SNAKE = {
    "workingDir": "working_dir", "skipIfSuccessful": "skip_if_successful",
    "logDir": "log_dir", "logOutput": "log_output", "handlerOn": "handler_on",
    "mailOn": "mail_on", "errorMail": "error_mail", "infoMail": "info_mail",
    "timeoutSec": "timeout_sec", "delaySec": "delay_sec", "restartWaitSec": "restart_wait_sec",
    "histRetentionDays": "hist_retention_days", "maxActiveRuns": "max_active_runs",
    "maxActiveSteps": "max_active_steps", "maxCleanUpTimeSec": "max_clean_up_time_sec",
    "maxOutputSize": "max_output_size", "shellPackages": "shell_packages",
    "continueOn": "continue_on", "retryPolicy": "retry_policy",
    "repeatPolicy": "repeat_policy", "mailOnError": "mail_on_error",
    "signalOnStop": "signal_on_stop", "intervalSec": "interval_sec", "exitCode": "exit_code",
    "maxIntervalSec": "max_interval_sec", "markSuccess": "mark_success",
    "maxConcurrent": "max_concurrent",
    # renames, not only spelling
    "precondition": "preconditions", "dir": "working_dir", "run": "call",
}
