# traceexec --lines: read by bash through BASH_ENV before the script's first line.
# Tracing goes to a descriptor of its own (TRACEEXEC_LINES_FD, set by the wrapper); the
# script's stderr never sees it.  One variable stays behind (__traceexec_pid, which lets
# a subshell's first line name its parent); $_ is given back as the script would see it.
__traceexec_pid=$_
PS4=$'\x1e$?\x1f$EPOCHREALTIME\x1f${__traceexec_pid-}\x1f$((__traceexec_pid=BASHPID))\x1f$LINENO\x1f${#BASH_SOURCE[@]}\x1f$BASH_SUBSHELL\x1f${FUNCNAME-}\x1f${BASH_SOURCE-}\x1f'
BASH_XTRACEFD=$TRACEEXEC_LINES_FD
unset -v BASH_ENV TRACEEXEC_LINES_FD
set -x
: "$__traceexec_pid"
