# Read by GNU make before the Makefile: `traceexec --make` names this file in
# MAKEFILES, so make and every sub-make read it first.  It defines no goal and
# no variable a Makefile uses.  It has a rule for a file that never exists,
# which make, having read every makefile, tries to make (as an included
# makefile): the one moment when the Makefile's own SHELL is known.  Its recipe
# makes nothing; it asks traceexec for a launcher of that SHELL (a single word,
# as .ONESHELL wants) and makes it the SHELL.  .SHELLFLAGS stays the Makefile's,
# so each recipe line runs as `traceexec-shell-<key> <.SHELLFLAGS> <line>`, which
# traceexec runs as `<the Makefile's SHELL> <.SHELLFLAGS> <line>` in a span.
# The target reaches it in the recipe's environment (TRACEEXEC_MAKE_TARGET), with
# the prerequisites it waited for ($^ $|) and the newer ones ($?), for its span.
#
# Until then make's own default holds (/bin/sh, traced), for makefiles remade
# before the hook and $(shell ...) while reading.  A target with a SHELL of its
# own (target- or pattern-specific, or inherited from the target that needed
# it) runs with it as the Makefile says, untraced: make says so once, in one line.
ifneq ($(TRACEEXEC_MAKE_DIR),)
traceexec_dir := $(TRACEEXEC_MAKE_DIR)
traceexec_default := $(traceexec_dir)/traceexec-shell-default
SHELL = $(traceexec_default)
traceexec_hook := $(dir $(lastword $(MAKEFILE_LIST))).hook-never-made
-include $(traceexec_hook)
# The Makefile's SHELL goes to traceexec as the command of $(shell ...), with no
# shell between: make hands it over as one argument, and traceexec answers with
# the launcher's path (none: the Makefile's SHELL stays, and make says so below).
$(traceexec_hook): ; $(if $(filter $(traceexec_default),$(SHELL)),,$(eval traceexec_words := $$(SHELL))$(eval override SHELL := $(traceexec_dir)/traceexec-register)$(eval traceexec_launcher := $(shell $(traceexec_words)))$(eval override SHELL := $(if $(traceexec_launcher),$(traceexec_launcher),$$(traceexec_words))))
traceexec_check = $(if $(or $(filter $(traceexec_dir)/traceexec-shell-%,$(SHELL)),$(traceexec_told)),,$(eval traceexec_told := 1)$(warning traceexec: target '$@' runs untraced with SHELL = $(SHELL) (its own, or make's before it read the Makefile)))
export TRACEEXEC_MAKE_TARGET = $@$(traceexec_check)
export TRACEEXEC_MAKE_PREREQUISITES = $^ $|
export TRACEEXEC_MAKE_NEWER = $?
endif
