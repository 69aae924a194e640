"""A command for the tests: reports the signals it receives.

Prints "ready" once its handlers are in place, then waits.  On a signal it
appends the signal's name to the file named in argv[1], waits a moment for a
second copy of the same signal (there must be none), and exits 10 + N.  With a
second argument, a file its sender makes once it has sent everything, the moment
starts when that file exists (a loaded machine can hold the sender between two
signals for longer than the moment).
"""
import os
import signal
import sys
import time

log = sys.argv[1]
received = []


def handler(number, _frame):
    received.append(number)
    with open(log, "a") as handle:
        handle.write(signal.Signals(number).name + "\n")


for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
            signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
    signal.signal(sig, handler)
print("ready", flush=True)
deadline = time.monotonic() + 30
while not received and time.monotonic() < deadline:
    time.sleep(0.01)
deadline = time.monotonic() + 60
while len(sys.argv) > 2 and not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)  # a duplicate would arrive in this window
sys.exit(10 + received[0] if received else 99)
