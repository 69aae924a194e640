"""Hostile OTLP into a real ``traceexec serve``, then ``traceexec show`` (issue 10, point 6).

Bombs small on the wire and huge once decoded, slow and idle clients, and valid
spans with every field hostile.  ``stress/run.py hostile`` runs the same at full size.
"""
import hostile_otlp


def test_hostile_otlp_into_serve_then_show(tmp_path):
    figures = hostile_otlp.scenario(tmp_path, connections=120, many_attributes=2000)
    assert figures["refused_badly"] == 0, figures
    assert figures["grpc_bomb"] == "RESOURCE_EXHAUSTED"
    assert figures["accepted"] == 1 and figures["good_request_after"] == 200
    assert figures["tracebacks"] == 0 and figures["raw_control_chars"] == 0, figures
    # the bombs inflate to gigabytes of objects when parsed; bounded, they cost little
    assert figures["rss_growth_mib"] < 300, figures
    # cut off near the 2 s limit for the whole request, not after every slow byte
    assert figures["slow_clients_cut_after_s"] < 20, figures
    assert figures["serve_threads_at_most"] < 100 and figures["answered_busy"] > 0, figures
    assert figures["serve_alive"] == 1
