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
# the prerequisites it waited for ($^ $|), the newer ones ($?) and whether it is
# phony, for its span.
#
# Until then make's own default holds (/bin/sh, traced), for makefiles remade
# before the hook and $(shell ...) while reading.  A target with a SHELL of its
# own (target- or pattern-specific, or inherited from the target that needed
# it) runs with it, untraced (docs/make.md says why): make says so in one line.
ifneq ($(TRACEEXEC_MAKE_DIR),)
traceexec_dir := $(TRACEEXEC_MAKE_DIR)
traceexec_default := $(traceexec_dir)/traceexec-shell-default
SHELL = $(traceexec_default)
traceexec_hook := $(dir $(lastword $(MAKEFILE_LIST))).hook-never-made
-include $(traceexec_hook)
# The Makefile's SHELL goes to traceexec as the command of $(shell ...), with no
# shell between: make hands it over as one argument, and traceexec answers with
# the launcher's path (none: the Makefile's SHELL stays, and make says so below),
# then the words of the .PHONY rules of the makefiles read: names, and $NAME for
# a variable, taken here only when it holds plain text (nothing runs twice).  The
# first 25 makefiles: one argument holds 128 KiB at most, and thousands of
# dependency files (.d, .Po) can follow a Makefile.
traceexec_own = $(if $(filter $(traceexec_default),$(SHELL)),,$(SHELL))
traceexec_ask = $(shell $(traceexec_words) traceexec:makefiles $(wordlist 1,25,$(MAKEFILE_LIST)))
traceexec_shell = $(or $(firstword $(traceexec_answer)),$(traceexec_words),$(traceexec_default))
traceexec_said = $(wordlist 2,$(words $(traceexec_answer)),$(traceexec_answer))
traceexec_plain = $(if $(filter simple,$(flavor $1)),$($1),$(if $(filter recursive,$(flavor $1)),$(if $(findstring $$,$(value $1)),,$(value $1))))
traceexec_phony_names = $(filter-out $$%,$(traceexec_said)) $(foreach traceexec_v,$(patsubst $$%,%,$(filter $$%,$(traceexec_said))),$(call traceexec_plain,$(traceexec_v)))
$(traceexec_hook): ; $(eval traceexec_words := $$(traceexec_own))$(eval override SHELL := $(traceexec_dir)/traceexec-register)$(eval traceexec_answer := $$(traceexec_ask))$(eval override SHELL := $$(traceexec_shell))$(eval traceexec_phony := $$(traceexec_phony_names))
traceexec_check = $(if $(or $(filter $(traceexec_dir)/traceexec-shell-%,$(SHELL)),$(traceexec_told)),,$(eval traceexec_told := 1)$(warning traceexec: target '$@' runs untraced with SHELL = $(SHELL) (its own, or make's before it read the Makefile)))
export TRACEEXEC_MAKE_TARGET = $@$(traceexec_check)
export TRACEEXEC_MAKE_PREREQUISITES = $^ $|
export TRACEEXEC_MAKE_NEWER = $?
export TRACEEXEC_MAKE_PHONY = $(if $(filter $@,$(traceexec_phony)),1)
endif
