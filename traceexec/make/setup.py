"""The outermost ``traceexec --make``: make's environment and the shells' launchers.

make, and every sub-make, reads traceexec.mk first (named in ``MAKEFILES``).  The
run's own directory (``TRACEEXEC_MAKE_DIR``, removed when make ends) holds:

- ``traceexec-self``: this very traceexec, by its own path (PATH plays no part):
  this interpreter without site, on this package;
- ``traceexec-register``: the same, which traceexec.mk asks for launchers;
- ``traceexec-shell-<key>``: one launcher per shell a Makefile chose, a symlink
  to traceexec-self beside a file ``<name>.words`` with the shell's words;
- ``notes``: one line per recipe line run, for the target spans (targets.py).

make runs a launcher as SHELL, a single word as .ONESHELL wants it.  Started as
``traceexec-shell-<key> FLAGS... LINE``, traceexec runs ``WORDS... FLAGS... LINE``
in a span: exactly what make would have run.
"""

import hashlib
import os
import shlex
import shutil
import sys
import tempfile

from .names import DEFAULT_SHELL, DIRECTORY, LINES, NOTES, PREFIX, REGISTER, SELF, WORDS

FRAGMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traceexec.mk")


MAX_SHEBANG = 250
"""Linux reads the first 256 bytes of a script for its ``#!`` line."""


SELF_SCRIPT = """import sys
prefix = %r
if sys.flags.dont_write_bytecode and prefix:  # not in the tree: in the user's cache
    sys.pycache_prefix, sys.dont_write_bytecode = prefix, False
sys.path.extend(p for p in %r if p not in sys.path)
from traceexec.cli import main
sys.exit(main())
"""
"""traceexec-self after its #! line.  Under PYTHONDONTWRITEBYTECODE (common in
containers) every recipe line would compile traceexec's modules again: the first
one leaves their bytecode in the user's cache (``files.user_cache``) for the others and
for later builds.  Not in the run's directory: a process a recipe line started (the
exporter it forks for a collector) may import modules after the run, and importlib would
make the removed directory again to write them."""


def self_script(directory: str, executable: str, bytecode: str | None = None) -> str:
    """traceexec-self in ``directory``: a small script that starts this interpreter
    with ``-S`` on this very package and the module path we run with.

    Without site, a recipe line's start skips the ``.pth`` files of the environment
    (an editable install's import hook alone costs more than traceexec's own
    imports).  An interpreter a ``#!`` line cannot name (a blank in its path, or a
    path too long) is started by a ``/bin/sh`` line instead, which Python reads as a
    string (the script that started us is not linked to: bin/traceexec finds its
    venv beside itself)."""
    path = os.path.join(directory, SELF)
    interpreter = os.path.abspath(executable)
    shebang = "#!%s -S\n" % interpreter
    if any(char.isspace() for char in interpreter) or len(shebang) > MAX_SHEBANG:
        shebang = "#!/bin/sh\n''''exec %s -S \"$0\" \"$@\" # '''\n" % shlex.quote(interpreter)
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # after the interpreter's own (the standard library first, as always): this package,
    # then the module path we run with, less its first entry (our script's directory, or
    # the working directory under python -m)
    paths = [package_parent] + [entry for entry in sys.path[1:] if entry]
    with open(path, "w") as handle:
        handle.write(shebang + SELF_SCRIPT % (bytecode, paths))
    os.chmod(path, 0o755)
    return path


def launcher(directory: str, words: list, key: str | None = None) -> str:
    """The launcher for a shell of these words (made once, atomically)."""
    data = b"".join(os.fsencode(word) + b"\0" for word in words)
    path = os.path.join(directory, PREFIX + (key or hashlib.sha1(data).hexdigest()[:16]))
    if not os.path.lexists(path):
        temporary = "%s.%d" % (path, os.getpid())
        with open(temporary + WORDS, "wb") as handle:
            handle.write(data)
        os.replace(temporary + WORDS, path + WORDS)
        os.symlink(SELF, temporary)
        os.replace(temporary, path)
    return path


def _bytecode_folder() -> str | None:
    """The user's cache for recipe lines' byte code, made private; None where it cannot
    be (a read-only home): the lines then compile as Python would."""
    from ..files import ensure_dir, user_cache
    try:
        return ensure_dir(user_cache(os.environ, "bytecode"))
    except OSError:
        return None


class Session:
    """The directory of one ``traceexec --make`` run; ``close`` removes it."""

    def __init__(self, executable: str | None = None, lines: bool = False):
        self.directory = tempfile.mkdtemp(prefix="traceexec-make-")
        if lines:  # --make --lines: recipe lines run by bash are traced by line
            open(os.path.join(self.directory, LINES), "x").close()
        self.notes = []
        self_script(self.directory, sys.executable if executable is None else executable,
                    _bytecode_folder())
        launcher(self.directory, DEFAULT_SHELL, "default")
        os.symlink(SELF, os.path.join(self.directory, REGISTER))

    def is_usable(self) -> bool:
        """make splits SHELL and MAKEFILES at blanks: a path with one cannot be named."""
        return not any(char.isspace() for char in self.directory + FRAGMENT)

    def prepare(self, child_env: dict) -> None:
        """Have make, and every make under it, read traceexec.mk first."""
        present = child_env.get("MAKEFILES", "").split()
        if FRAGMENT not in present:
            child_env["MAKEFILES"] = " ".join(present + [FRAGMENT])
        child_env[DIRECTORY] = self.directory

    def target_spans(self, resource=None, scope_version="") -> list:
        """The target spans of the build, from the recipe lines' notes (read by close)."""
        from . import targets
        return targets.spans(self.notes, resource, scope_version)

    def close(self) -> None:
        """Read the notes make's recipe lines left, and remove the directory."""
        from . import targets
        self.notes = targets.read_notes(os.path.join(self.directory, NOTES))
        shutil.rmtree(self.directory, ignore_errors=True)
