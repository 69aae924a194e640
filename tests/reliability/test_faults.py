"""Faults: the collector down, silent or killed, the exporter or traceexec killed, no disk.

Reuses and extends tests/delivery/test_export.py and test_exporter.py (collector
down then flush, exporter SIGKILLed, black hole, wrong CA, refused spans, long
outages) and tests/wrap/test_supervise.py (SIGKILL leaves no orphan); a moment
of full disk, a collector down for many exporter generations, poison spans,
an exporter killed in a loop, a working directory of standard-library names;
``stress/run.py faults`` runs these at full size.
"""
import resource

import pytest

import harness
from conftest import run_traceexec
from test_load import report

WARNING = "traceexec: warning: span not recorded"


def test_collector_down_for_the_whole_run_then_flush_loses_nothing(tmp_path):
    figures = harness.collector_down_then_up(tmp_path, 40)
    report("collector down", figures)
    assert figures["flush_status"] == 0, figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert figures["outcome_changed"] == 0 and figures["wrapper_stderr_lines"] == 0, figures
    assert figures["wrong_parent"] == 0 and figures["spool_pending"] == 0, figures


def test_black_hole_collector_does_not_slow_commands_past_the_export_timeout(tmp_path):
    figures = harness.black_hole(tmp_path, 6, export_timeout=1.0)
    report("black hole", figures)
    assert figures["outcome_changed_nowait"] == 0 and figures["outcome_changed_wait"] == 0
    # start-up of a Python process on a loaded 2-core machine, plus the bound itself
    assert figures["max_seconds_nowait"] < 5, figures
    assert figures["max_seconds_wait"] < figures["export_timeout_s"] + 5, figures
    assert figures["spool_pending_wait"] == 6 and figures["spool_pending_nowait"] == 6, figures


def test_collector_and_exporter_killed_mid_export_then_everything_arrives(tmp_path):
    figures = harness.kill_mid_export(tmp_path, files=60)
    report("killed mid-export", figures)
    assert figures["flush_status"] == 0, figures
    assert figures["lost"] == 0 and figures["unexpected"] == 0, figures
    assert figures["left_after_collector_kill"] > 0, "the collector died after the export"
    assert figures["spool_pending"] == 0 and figures["spool_corrupt"] == 0, figures


def test_sigkilled_wrappers_leave_no_orphan_and_no_corrupt_spool(tmp_path):
    figures = harness.sigkill_wrappers(tmp_path, 10)
    report("SIGKILL", figures)
    assert figures["orphans"] == 0, figures
    assert figures["spool_unreadable"] == 0 and figures["spool_corrupt"] == 0, figures


def _file_size_limit(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _state_dirs_are_files(env, home):
    for name in ("spool", "store"):  # ENOTDIR, for root too
        (home / name).write_text("not a directory\n")


def _spool_under_proc(env, home):
    env["TRACEEXEC_HOME"] = "/proc/traceexec-cannot-write-here"  # EACCES/ENOENT, for root too


def _nothing(env, home):
    pass


# (how the spool is broken, setrlimit in the child or None)
BROKEN = [(_state_dirs_are_files, None), (_spool_under_proc, None), (_nothing, 0), (_nothing, 200)]


@pytest.mark.parametrize("exporter", ["endpoint", "local"])
@pytest.mark.parametrize("breaking,fsize", BROKEN, ids=["dirs-are-files", "under-proc",
                                                       "no-file-space", "tiny-file-space"])
def test_no_spool_space_keeps_the_outcome_with_one_warning(env, home, exporter, breaking, fsize):
    breaking(env, home)
    if exporter == "endpoint":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "127.0.0.1:9"
    # a span far larger than the file size limit; stdout and stderr are pipes, not files
    result = run_traceexec(
        ["--attr", "padding=" + "x" * 4096, "--", "sh", "-c", "echo out; echo err >&2; exit 5"],
        env, preexec_fn=None if fsize is None else _file_size_limit(fsize))
    assert result.returncode == 5, result
    assert result.stdout == b"out\n"
    lines = result.stderr.decode().splitlines()
    assert lines[0] == "err" and len(lines) == 2, lines
    assert lines[1].startswith(WARNING), lines


# --- delivery faults that found bugs before (issue 10) --------------------------------

def test_a_moment_of_full_disk_loses_only_the_spans_that_warned(tmp_path):
    figures = harness.full_disk_moment(tmp_path, 20, every=5)
    report("full disk", figures)
    assert figures["warned"] == 4 and figures["lost"] == 0, figures
    assert figures["delivered"] == 16 and figures["torn_stretches_in_spool"] == 0, figures
    assert figures["outcome_changed"] == 0 and figures["other_stderr_lines"] == 0, figures
    assert figures["flush_status"] == 0 and figures["spool_pending"] == 0, figures
    assert figures["tracebacks"] == 0 and figures["unlocked_destinations"] == 0, figures


def test_a_long_outage_over_many_exporter_generations(tmp_path):
    figures = harness.long_outage(tmp_path, 10, backlog=10_000)
    report("long outage", figures)
    assert figures["lost"] == 0 and figures["files_renamed"] == 0, figures
    assert figures["backoff_missing"] == 0 and figures["silent_failures"] == 0, figures
    assert figures["flush_status"] == 0 and figures["spool_pending"] == 0, figures
    assert figures["tracebacks"] == 0, figures


def test_poison_spans_are_set_aside_and_the_rest_delivered(tmp_path, receiver):
    figures = harness.poison(tmp_path, receiver)
    report("poison", figures)
    assert figures["lost"] == 0 and figures["set_aside"] == 3, figures
    assert figures["non_utf8_recorded_escaped"] == 1, figures
    assert figures["reasons"] == ["HTTP 400", "INVALID_ARGUMENT", "OUT_OF_RANGE"], figures
    assert figures["flush_status"] == 0 and figures["outcome_changed"] == 0, figures
    assert figures["tracebacks"] == 0, figures


def test_an_exporter_killed_again_and_again_loses_nothing(tmp_path, receiver):
    figures = harness.exporter_kill_loop(tmp_path, receiver, 6, spans=6_000)
    report("exporter killed in a loop", figures)
    assert figures["lost"] == 0 and figures["unexpected"] == 0, figures
    assert figures["spool_temporaries"] == 0 and figures["spool_unreadable"] == 0, figures
    assert figures["flush_status"] == 0 and figures["spool_pending"] == 0, figures
    assert figures["tracebacks"] == 0, figures


def test_a_working_directory_of_standard_library_names_runs_none(tmp_path, receiver):
    figures = harness.shadowed_working_directory(tmp_path, receiver, 4)
    report("shadowed cwd", figures)
    assert figures["modules_run_from_cwd"] == 0 and figures["lost"] == 0, figures
    assert figures["outcome_changed"] == 0, figures
