"""The local store under a moment of full disk (issue 10, point 2, the store's side)."""
import torn_store


def test_torn_incoming_lines_lose_only_the_span_that_warned(tmp_path):
    figures = torn_store.scenario(tmp_path, wrappers=60, torn_every=6, read_every=20)
    assert figures["torn_writers"] == 10 and figures["warned"] == 10, figures
    assert figures["lost"] == 0 and figures["filed"] == figures["sent"] == 50, figures
    assert figures["outcome_changed"] == 0 and figures["tracebacks"] == 0, figures
    # a torn writer leaves at most its 40 bytes (none once writers clean up after
    # themselves): set aside and counted, never glued to the next line
    assert figures["quarantined_pieces"] <= 10, figures
    assert figures["quarantined_bytes"] == 40 * figures["quarantined_pieces"], figures
