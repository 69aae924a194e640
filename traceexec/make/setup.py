"""The outermost ``traceexec --make``: make's environment and the shells' launchers.

make, and every sub-make, reads traceexec.mk first (named in ``MAKEFILES``).  The
run's own directory (``TRACEEXEC_MAKE_DIR``, removed when make ends) holds:

- ``traceexec-self``: this very traceexec, by its own path (PATH plays no part);
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
import shutil
import sys
import tempfile

from .names import DEFAULT_SHELL, DIRECTORY, LINES, NOTES, PREFIX, REGISTER, SELF, WORDS

FRAGMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traceexec.mk")


def self_script(directory: str, argv0: str, executable: str) -> str:
    """traceexec-self in ``directory``: the script that runs us, or a small one
    that starts this interpreter on this package (``python -m traceexec``)."""
    path = os.path.join(directory, SELF)
    if argv0 and os.path.basename(argv0) != "__main__.py" and os.path.isfile(argv0) \
            and os.access(argv0, os.X_OK) and not _is_venv_launcher(argv0):
        os.symlink(os.path.abspath(argv0), path)
        return path
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # started without site by bin/traceexec: so are the recipe lines' (one shebang word)
    flags = " -SXtraceexec-nosite" if "traceexec-nosite" in sys._xoptions else ""
    with open(path, "w") as handle:
        handle.write("#!%s%s\nimport sys\nsys.path.insert(0, %r)\nfrom traceexec.cli import main\n"
                     "sys.exit(main())\n" % (os.path.abspath(executable), flags, package_parent))
    os.chmod(path, 0o755)
    return path


def _is_venv_launcher(script: str) -> bool:
    """bin/traceexec finds its venv's Python beside itself: by a link from elsewhere it
    could not, so it is not linked to."""
    try:
        with open(script, "rb") as handle:
            return b"traceexec-nosite" in handle.read(1024)
    except OSError:
        return False


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


class Session:
    """The directory of one ``traceexec --make`` run; ``close`` removes it."""

    def __init__(self, argv0: str | None = None, executable: str | None = None,
                 lines: bool = False):
        self.directory = tempfile.mkdtemp(prefix="traceexec-make-")
        if lines:  # --make --lines: recipe lines run by bash are traced by line
            open(os.path.join(self.directory, LINES), "x").close()
        self.notes = []
        self_script(self.directory, sys.argv[0] if argv0 is None else argv0,
                    sys.executable if executable is None else executable)
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
