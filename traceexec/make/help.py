"""``traceexec help make``."""

HELP = """\
Tracing GNU make: one trace per build, one span per recipe line.

An unedited Makefile:

    traceexec --make --name build -- make -j4
    traceexec show

  make, and every sub-make, first reads a small makefile of traceexec's (named
  in MAKEFILES).  Once make has read the Makefile, it puts traceexec in front of
  the Makefile's own SHELL, so each recipe line runs with that shell and the
  Makefile's .SHELLFLAGS, exactly as without traceexec, inside a span named by
  its target.  traceexec finds itself by its own path, not PATH.  A target with
  a SHELL of its own (target- or pattern-specific) runs with it, untraced, and
  make says so in one line.

  Do not add SHELL=traceexec to make's command line: it replaces the Makefile's
  SHELL, whose .SHELLFLAGS would then go to /bin/sh; traceexec refuses that in
  one line when the Makefile has shell options.

An edited Makefile (the recipes keep their own shell and its options):

    SHELL := traceexec
    .SHELLFLAGS = --name=$@ --attr=make.target=$@ --shell=bash -eu -o pipefail -c

  Everything between --shell PATH and -c is the shell's own options.  Use '='
  (not ':=') so that $@ is each line's target.

See docs/make.md.
"""
