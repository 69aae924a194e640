# Read by GNU make before the Makefile: traceexec --make names it in MAKEFILES.
# Each recipe line runs as `traceexec --name=<target> --attr=make.target=<target> -c LINE`
# unless the Makefile chooses its own SHELL (then it runs as the Makefile says,
# untraced, and the first recipe says so in one line).
SHELL := traceexec
.SHELLFLAGS = --name=$@ --attr=make.target=$@ -c
traceexec_makefiles := $(MAKEFILES)
traceexec_check = $(if $(filter traceexec,$(notdir $(firstword $(SHELL))))$(traceexec_told),,$(eval traceexec_told := 1)$(warning traceexec: this Makefile sets SHELL = $(SHELL) (.SHELLFLAGS = $(.SHELLFLAGS)), so its recipes run untraced as it says; to trace them, see 'traceexec help make'))
export MAKEFILES = $(traceexec_makefiles)$(traceexec_check)
