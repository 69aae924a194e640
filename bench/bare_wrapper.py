"""The floor of any wrapper written in Python: the least a span around a command needs.

Makes a trace and span id, gives the command a TRACEPARENT, starts it (PATH search),
waits for it with its resource use, and appends one JSON line under an exclusive lock
to ``bare-spans.jsonl`` in
``TRACEEXEC_HOME`` (the folder traceexec would use), then leaves by ``os._exit`` with the command's status.  No
options, no configuration, no signals forwarded, no store: what traceexec does on top
of this is what it costs beyond the floor.  Run with the interpreter under test, with
``site`` (as an installed script runs):

    TRACEEXEC_HOME=/tmp/h python bench/bare_wrapper.py true
"""
import fcntl
import os
import sys
import time


def main(command):
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    env = dict(os.environ)
    env["TRACEPARENT"] = "00-%s-%s-01" % (trace_id, span_id)
    start = time.time_ns()
    pid = os.posix_spawnp(command[0], command, env)
    _, status, usage = os.wait4(pid, 0)
    end = time.time_ns()
    line = ('{"traceId":"%s","spanId":"%s","name":"%s","start":%d,"end":%d,"status":%d,'
            '"cpu":%.6f}\n' % (trace_id, span_id, command[0], start, end, status,
                               usage.ru_utime + usage.ru_stime))
    fd = os.open(os.path.join(os.environ["TRACEEXEC_HOME"], "bare-spans.jsonl"),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, line.encode())
    os.close(fd)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))
