"""GNU make: ``--make`` and make's ``.ONESHELL`` recipes under ``SHELL := traceexec``.

``traceexec --make -- make ...`` traces every recipe line of an unedited
Makefile without overriding anything on make's command line: it names
``traceexec.mk`` (beside this module) in ``MAKEFILES``, which make, and every
sub-make, reads before the Makefile.  That file sets ``SHELL := traceexec``
only as a default, so a Makefile that chooses its own ``SHELL`` or
``.SHELLFLAGS`` keeps them: one that sets only ``.SHELLFLAGS`` is traced with
them, one that sets ``SHELL`` runs as it says, untraced, and make prints one
line saying so.

With ``.ONESHELL``, make strips the ``@``, ``-`` and ``+`` prefixes of every
recipe line only when SHELL is a POSIX shell by name; traceexec does the same
for the shell it runs (``oneshell_script``), so a recipe means what it means
under that shell without traceexec.
"""

import os

FRAGMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traceexec.mk")
POSIX_SHELLS = frozenset(("sh", "bash", "ksh", "rksh", "zsh", "ash", "dash"))
"""The shells GNU make treats as POSIX ones (its is_bourne_compatible_shell)."""


def prepare(child_env: dict) -> None:
    """Have make, and every make under it, read traceexec.mk first."""
    present = child_env.get("MAKEFILES", "").split()
    if FRAGMENT not in present:
        child_env["MAKEFILES"] = " ".join(present + [FRAGMENT])


def is_make_recipe(script: str) -> bool:
    """True when ``script`` is a .ONESHELL recipe that make handed to traceexec.

    make runs SHELL itself, one recipe line at a time, and never passes an
    unescaped newline except for a .ONESHELL recipe; traceexec started by a
    recipe's shell has that shell, not make, as its parent.
    """
    if "\n" not in script.replace("\\\n", "") or "MAKELEVEL" not in os.environ:
        return False
    try:
        name = os.path.basename(os.readlink("/proc/%d/exe" % os.getppid()))
    except OSError:
        return False
    return name in ("make", "gmake") or name.endswith("-make")


def oneshell_script(script: str) -> str:
    """``script`` with the prefix characters of each recipe line removed, as make
    does for a POSIX shell: blanks and any of ``@-+`` at the start of each line
    that does not continue the previous one (backslash-newline)."""
    out = []
    i, n = 0, len(script)
    while i < n:
        while i < n and script[i] in " \t@-+":
            i += 1
        escaped = False
        while i < n:
            char = script[i]
            out.append(char)
            i += 1
            if char == "\\":
                escaped = not escaped
                continue
            if char == "\n" and not escaped:
                break
            escaped = False
    return "".join(out)


HELP = """\
Tracing GNU make: one span per recipe line, one trace per build.

An edited Makefile (the recipes keep their own shell and its options):

    SHELL := traceexec
    .SHELLFLAGS = --name=$@ --attr=make.target=$@ --shell=bash -eu -o pipefail -c

  Everything between --shell PATH and -c is the shell's own options.  Use '='
  (not ':=') so that $@ is each line's target.  With .ONESHELL, traceexec removes
  the @ - + prefixes of the recipe's lines as make does for a POSIX shell.

The same Makefile on machines without traceexec (plain bash there):

    TRACEEXEC := $(shell command -v traceexec 2>/dev/null)
    SHELL := $(if $(TRACEEXEC),$(TRACEEXEC),bash)
    .SHELLFLAGS = $(if $(TRACEEXEC),--name=$@ --shell=bash) -eu -o pipefail -c

An unedited Makefile:

    traceexec --make --name build -- make -j4

  make and every sub-make first read a small makefile of traceexec's (through
  MAKEFILES) that makes traceexec the default SHELL.  A Makefile that sets only
  .SHELLFLAGS is traced with its flags; one that sets SHELL runs as it says,
  untraced, and make prints one line saying so: edit it as above to trace it.
  (Giving SHELL=traceexec on make's command line would replace the Makefile's
  SHELL and .SHELLFLAGS and change what its recipes mean.)

Then: traceexec show
"""
