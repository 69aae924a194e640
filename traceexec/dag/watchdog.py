"""The DAG driver's watchdog: SIGKILL the driver's steps if the driver dies.

Run as ``python -I -S watchdog.py`` with the driver's pipe on stdin (see
``process.Watchdog``).  Lines: ``+PID`` a step session started, ``-PID`` it
ended, ``end`` the driver is finishing normally.  End of input without ``end``
means the driver is gone: every session still registered gets SIGKILL.
Standard library only, and as little of it as possible: it starts once per run.
"""
import posix as os  # os's functions without os's import, 6 M instructions of a 29 M start
import _signal as signal  # the C module: signal imports enum (20 M instructions)


def main():
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, signal.SIG_IGN)
    alive = set()
    pending = b""
    while True:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            break
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line == b"end":
                return
            if line[:1] == b"+":
                alive.add(int(line[1:]))
            elif line[:1] == b"-":
                alive.discard(int(line[1:]))
    for pid in alive:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    main()
