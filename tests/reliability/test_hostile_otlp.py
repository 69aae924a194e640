"""Hostile OTLP into a real ``traceexec serve``, then ``traceexec show`` (issue 10, point 6).

Bombs small on the wire and huge once decoded, slow and idle clients, and valid
spans with every field hostile.  ``stress/run.py hostile`` runs the same at full size.
"""
import hostile_otlp


def test_hostile_otlp_into_serve_then_show(tmp_path):
    figures = hostile_otlp.scenario(tmp_path, connections=120, many_attributes=2000)
    assert figures["refused_badly"] == 0, figures["badly"]
    assert figures["grpc_bomb"] == "RESOURCE_EXHAUSTED"
    assert figures["accepted"] == 1 and figures["good_request_after"] == 200
    assert figures["tracebacks"] == 0 and figures["raw_control_chars"] == 0, figures
    # the bombs inflate to gigabytes of objects when parsed; bounded, they cost little
    assert figures["rss_growth_mib"] < 300, figures
    # cut off near the 2 s limit for the whole request, not after every slow byte
    assert figures["slow_clients_cut_after_s"] < 20, figures
    assert figures["serve_threads_at_most"] < 100 and figures["answered_busy"] > 0, figures
    assert figures["serve_alive"] == 1


def test_serve_over_its_limit_gets_the_spans_later_and_sets_none_aside(tmp_path, home, env):
    """Our own ``serve`` held at its handler limit by idle connections answers 503 with
    Retry-After; the exporter's drain waits as asked and retries, and every span arrives
    once, none set aside (issue 24, point 3)."""
    import json
    import threading

    from conftest import Receiver, run_traceexec
    from test_export import make_record, spool_for
    from traceexec.delivery import spool
    receiver = Receiver(tmp_path, ["--request-timeout", "30"])
    held = hostile_otlp.idle_connections(receiver.http_port, 40)
    try:
        directory = spool_for(home, receiver.http_endpoint)
        records = [make_record(i) for i in range(50)]
        spool.write(directory, records)
        release = threading.Timer(1.5, lambda: [sock.close() for sock in held])
        release.start()
        result = run_traceexec(["flush", "--json", "--export-timeout", "5s"], env)
        release.join()
        report = json.loads(result.stdout)
        assert (result.returncode, report["sent"], report["left"], report["dead_letters"]) \
            == (0, 50, 0, 0), report["destinations"][0]["error"]
        assert report["destinations"][0]["retries"] >= 1, report
        arrived = receiver.wait_for(50)
        assert sorted(r["span_id"] for r in arrived) == sorted(r["span_id"] for r in records)
    finally:
        for sock in held:
            sock.close()
        receiver.stop()
