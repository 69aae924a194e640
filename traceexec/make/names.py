"""Names shared by ``--make``'s two sides (standard library only, nothing imported:
a recipe line's start-up path reads them)."""

DIRECTORY = "TRACEEXEC_MAKE_DIR"
"""The run's directory of launchers and notes, for make and every sub-make."""
TARGET = "TRACEEXEC_MAKE_TARGET"
"""Exported by traceexec.mk in each recipe's environment: the target ($@)."""
PREREQUISITES = "TRACEEXEC_MAKE_PREREQUISITES"
"""Exported likewise: ``$^ $|``, the prerequisites the target waited for."""
NEWER = "TRACEEXEC_MAKE_NEWER"
"""Exported likewise: ``$?``, the prerequisites newer than the target."""
PHONY = "TRACEEXEC_MAKE_PHONY"
"""Exported likewise: 1 when the target is one of the makefiles' ``.PHONY``."""
TOLD = (TARGET, PREREQUISITES, NEWER, PHONY)
SELF = "traceexec-self"
REGISTER = "traceexec-register"
"""Started by traceexec.mk's $(shell ...) with the Makefile's SHELL: answers the
launcher's path.  A single word too, as .ONESHELL wants for $(shell ...) as well."""
MAKEFILES_MARK = "traceexec:makefiles"
"""In the register's command: the Makefile's SHELL before it, $(MAKEFILE_LIST) after."""
PREFIX = "traceexec-shell-"
"""A launcher's name; no POSIX shell's name starts like it, so make always runs
recipe lines through it, never a simple line by itself."""
WORDS = ".words"
"""Beside a launcher: the shell's words, each ended by a NUL byte."""
NOTES = "notes"
LINES = "lines"
"""In the run's directory when ``--make --lines``: recipe lines run by bash are traced
by line (a file, not a variable: the recipes' environment stays as make gives it)."""
LINES_PIPES = "lines-pipes"
"""A folder with a file per trace pipe of a traced recipe line (device-inode)."""
LINES_TOLD = "lines-told"
"""Made by the first recipe line that could not be traced by line, which says why:
the others keep quiet (one line for the whole run)."""
DEFAULT_SHELL = ["/bin/sh"]
