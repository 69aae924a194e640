"""span.records_text: the small encoder's text of to_otlp_json(records), written
directly, byte for byte."""
import json

from hypothesis import given, settings, strategies as st

from traceexec.delivery import incoming, span

TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", "caf\u00e9", 'q"b\\s', "a\nb\x7f",
                                                          "caf\udce9", "\u2028"]))
VALUE = st.one_of(TEXT, st.integers(), st.booleans(), st.floats(), st.none(),
                  st.lists(TEXT, max_size=3), st.lists(st.one_of(TEXT, st.integers()),
                                                        max_size=3),
                  st.tuples(TEXT, TEXT), st.lists(st.lists(TEXT, max_size=2), max_size=2))
ATTRIBUTES = st.dictionaries(st.one_of(TEXT, st.integers()), VALUE, max_size=6)
RECORD = st.builds(
    lambda trace, name, attrs, code, message, parent, state, flags, kind, start, events,
    links, resource, scope, version: span.new_record(
        trace_id=trace, span_id="00f067aa0ba902b7", parent_span_id=parent, name=name,
        kind=kind, start_ns=start, end_ns=start + 5, attributes=attrs, status_code=code,
        status_message=message, trace_state=state, flags=flags, events=events, links=links,
        resource=resource, scope=scope, scope_version=version),
    st.sampled_from(["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]),
    TEXT, ATTRIBUTES, st.sampled_from([0, 1, 2]), TEXT, st.sampled_from(["", "b7ad6b7169203331"]),
    st.sampled_from(["", "k=v"]), st.sampled_from([0, 1, 3, True, 0x1FF]), st.integers(0, 5),
    st.integers(0, 2 ** 64), st.sampled_from([None, [{"name": "e", "time_ns": 3,
                                                      "attributes": {"a": 1}}]]),
    st.sampled_from([None, [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                             "span_id": "00f067aa0ba902b7", "trace_state": "",
                             "attributes": {}}]]),
    st.sampled_from([{"service.name": "traceexec"}, {"service.name": "x", "n": 2}, {}]),
    st.sampled_from(["traceexec", "other"]), st.sampled_from(["", "0.1.0"]))


@settings(max_examples=500, deadline=None)
@given(st.lists(RECORD, min_size=1, max_size=4))
def test_the_text_is_the_small_encoders_of_the_dict_form(records):
    assert span.records_text(records) == span._json(span.to_otlp_json(records))


def test_a_wrappers_record_is_that_text_in_the_store(tmp_path):
    record = span.new_record(trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
                             span_id="00f067aa0ba902b7", name="true", start_ns=1, end_ns=2,
                             attributes={"process.command_args": ["true"], "process.pid": 7,
                                         "traceexec.process.cpu.user": 0.25},
                             resource={"service.name": "traceexec"}, scope_version="0.1.0")
    line = incoming.trace_lines([record])[0].decode()
    assert json.loads(line) == span.to_otlp_json([record])


@settings(max_examples=500, deadline=None)
@given(st.lists(RECORD, min_size=1, max_size=2), st.sampled_from(["", "caf\udce9", "\\udce9"]))
def test_text_said_valid_is_what_the_walk_leaves_as_it_is(records, name):
    records[0]["name"] += name
    for record in records:
        walked = span.with_valid_text(record)
        if span.is_valid_text(record):
            assert span._json(walked) == span._json(record)
        if "\udce9" in record["name"]:
            assert not span.is_valid_text(record)



class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_what_repr_fails_on_is_left_to_the_walk():
    assert span.is_valid_text({"a": ["ok", 1, 2.5, None, True]})
    assert not span.is_valid_text({"a": Unprintable()})
