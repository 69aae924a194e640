"""Signals by name: ``SIGNAL_NAMES`` ({number: "SIGTERM"...}), a signal's name, and the
signal a name or number given on a command line means.

Apart from ``signals`` (which finds these names too): building the names costs 0.5 M
instructions, which a command that no signal ended, and no ``--signal``, does not pay.
"""

import _signal

SIGNAL_NAMES = {getattr(_signal, n): n for n in dir(_signal)
                if n.startswith("SIG") and not n.startswith("SIG_")
                and n not in ("SIGRTMIN", "SIGRTMAX", "SIGIOT", "SIGCLD", "SIGPOLL")}


def signal_name(number: int) -> str:
    return SIGNAL_NAMES.get(number, "SIG%d" % number)


def signal_number(text: str) -> int:
    """A signal from ``TERM``, ``SIGTERM``, ``term`` or ``15`` (as timeout(1) -s takes it)."""
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if 0 < number < 65:
            return number
        raise ValueError(text)
    if not name.startswith("SIG"):
        name = "SIG" + name
    for number, known in SIGNAL_NAMES.items():
        if known == name:
            return number
    raise ValueError(text)
