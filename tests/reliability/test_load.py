"""Load: many wrapped commands at once and in a row, and a wide DAG; every span arrives.

Reduced sizes; ``stress/run.py load`` runs the full ones (500 concurrent,
10,000 in sequence, a 1,000-step DAG) and prints the same figures.
"""
import harness


def report(name, figures):
    print("%s: %s" % (name, " ".join("%s=%s" % item for item in sorted(figures.items()))))


def assert_all_delivered(figures):
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures
    assert figures["wrong_parent"] == 0, figures
    assert figures["outcome_changed"] == 0, figures
    assert figures["spool_pending"] == 0 and figures["spool_unreadable"] == 0, figures
    assert figures["spool_corrupt"] == 0 and figures["spool_temporaries"] == 0, figures


def test_concurrent_wrappers_from_xargs(tmp_path, receiver):
    figures = harness.concurrent_xargs(tmp_path, receiver, 100, parallel=50)
    report("xargs -P 50", figures)
    assert_all_delivered(figures)
    assert figures["wrong_exit_code"] == 0 and figures["stderr_lines"] == 0, figures["stderr_sample"]


def test_concurrent_recipes_from_make(tmp_path, receiver):
    figures = harness.concurrent_make(tmp_path, receiver, 100, jobs=50)
    report("make -j 50", figures)
    assert_all_delivered(figures)
    assert figures["make_span_parent_ok"] and figures["wrong_exit_code"] == 0, figures


def test_sequential_wrappers_with_flat_exporter_memory(tmp_path, receiver):
    figures = harness.sequential(tmp_path, receiver, 300)
    report("sequential", figures)
    assert_all_delivered(figures)
    assert figures["wrong_exit_code"] == 0, figures
    # Flat: no growth with the number of spans sent (a wide margin, not a budget).
    assert figures["exporter_rss_last_mib"] <= figures["exporter_rss_first_mib"] * 1.5 + 16, figures


def test_wide_dag_delivers_every_step_span(tmp_path, receiver):
    figures = harness.dag_load(tmp_path, receiver, 100, max_active=16)
    report("dag", figures)
    assert_all_delivered(figures)
    assert figures["dag_span"] == 1 and figures["tracebacks"] == 0, figures
