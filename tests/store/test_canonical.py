"""``canonical``: a stored span's text is spliced into ``show --json`` only when it is,
byte for byte, the text ``document.normal_span`` and the encoder would give it."""
from __future__ import annotations

import json
import os

import pytest

from traceexec.store import canonical, document

from conftest import run_traceexec

TRACE, SPAN_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def span_text(attributes='[{"key":"k","value":{"stringValue":"v"}}]', name='"cc"',
              tail="", kind="3", flags="257", end='"2"', status='{"code":1}') -> str:
    return ('{"traceId":"%s","spanId":"%s","name":%s,"kind":%s,"startTimeUnixNano":"1",'
            '"endTimeUnixNano":%s,"attributes":%s,"status":%s,"flags":%s%s}' % (
                TRACE, SPAN_ID, name, kind, end, attributes, status, flags, tail))


def value(text: str) -> str:
    return '[{"key":"k","value":%s}]' % text


SPLICED = {
    "wrapper span": span_text(),
    "parent, trace state, message": span_text(
        tail=',"parentSpanId":"0000000000000001","traceState":"a=b"',
        status='{"code":2,"message":"no"}'),
    "json's escapes": span_text(name=r'"q\"\\\n\t\u001b\u007f\u00e9\u2603\ud83d\ude00\ud800"'),
    "every scalar": span_text(attributes='[{"key":"a","value":{"boolValue":true}},'
                              '{"key":"b","value":{"intValue":"-12"}},'
                              '{"key":"c","value":{"doubleValue":1e+16}},'
                              '{"key":"d","value":{"doubleValue":NaN}},'
                              '{"key":"e","value":{"doubleValue":-0.0}}]'),
    "an array": span_text(attributes=value('{"arrayValue":{"values":[{"stringValue":"x"},'
                                           '{"intValue":"0"}]}}')),
    "no attributes, not ended": span_text(attributes="[]", end='"0"'),
    "events": span_text(tail=',"events":[{"timeUnixNano":"5","name":"e","attributes":[]}]'),
}

PARSED = {  # each differs from its normal form, or is refused to keep the grammar small
    "-0": span_text(kind="-0"),
    "a number's form": span_text(attributes=value('{"doubleValue":1.50}')),
    "an int as double": span_text(attributes=value('{"doubleValue":2}')),
    "an exponent": span_text(attributes=value('{"doubleValue":1E+16}')),
    "a key twice": span_text(attributes='[{"key":"k","value":{"intValue":"1"}},'
                             '{"key":"k","value":{"intValue":"2"}}]'),
    "intValue as a number": span_text(attributes=value('{"intValue":7}')),
    "intValue with a zero first": span_text(attributes=value('{"intValue":"07"}')),
    "a kvlist": span_text(attributes=value('{"kvlistValue":{"values":[]}}')),
    "bytes": span_text(attributes=value('{"bytesValue":"AAE="}')),
    "an empty value": span_text(attributes=value("{}")),
    "a nested array": span_text(attributes=value(
        '{"arrayValue":{"values":[{"arrayValue":{"values":[]}}]}}')),
    "a value before its key": span_text(attributes='[{"value":{"intValue":"1"},"key":"k"}]'),
    "escaped slash": span_text(name=r'"a\/b"'),
    "an ASCII letter escaped": span_text(name=r'"\u0041"'),
    "upper-case escape": span_text(name=r'"\u00E9"'),
    "raw non-ASCII": span_text(name='"\u00e9"'),
    "raw DEL": span_text(name='"\x7f"'),
    "a space between tokens": span_text().replace('"kind":3', '"kind": 3'),
    "flags without 0x100": span_text(flags="1"),
    "flags over 0x1ff": span_text(flags="513"),
    "an empty parent": span_text(tail=',"parentSpanId":""'),
    "an empty message": span_text(status='{"code":0,"message":""}'),
    "an empty trace state": span_text(tail=',"traceState":""'),
    "upper-case ids": span_text().replace(SPAN_ID, SPAN_ID.upper()),
    "a time as a number": span_text(end="2"),
    "no flags": span_text().replace(',"flags":257', ""),
    "a link": span_text(tail=',"links":[{"traceId":"%s","spanId":"%s","attributes":[]}]'
                        % (TRACE, SPAN_ID)),
    "an empty list of events": span_text(tail=',"events":[]'),
    "a key twice in an event": span_text(tail=(
        ',"events":[{"timeUnixNano":"5","name":"e","attributes":[{"key":"x","value":'
        '{"intValue":"1"}},{"key":"x","value":{"intValue":"1"}}]}]')),
}

NOT_JSON = {
    "a comma first": span_text(attributes='[,{"key":"k","value":{"stringValue":"v"}}]'),
    "a comma last": span_text(attributes='[{"key":"k","value":{"stringValue":"v"}},]'),
    "two commas": span_text(attributes=value('{"arrayValue":{"values":[{"intValue":"1"},,'
                                             '{"intValue":"2"}]}}')),
    "no comma": span_text(attributes=value('{"arrayValue":{"values":[{"intValue":"1"}'
                                           '{"intValue":"2"}]}}')),
}


def normal_text(text: str) -> str:
    item = json.loads(text)
    return ENCODE(document.normal_span(item, TRACE, document._hex_id(item["spanId"], 16)))


@pytest.mark.parametrize("name", sorted(SPLICED))
def test_a_span_in_normal_form_is_spliced_as_it_is(name):
    text = SPLICED[name]
    assert normal_text(text) == text  # the premise: this is the normal form
    match = canonical.SPAN(text, 0)
    assert canonical.is_spliceable(match)
    assert match.group() == text and match.group(1, 2) == (TRACE, SPAN_ID)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_any_other_span_is_parsed(name):
    text = PARSED[name]
    assert not canonical.is_spliceable(canonical.SPAN(text, 0))


@pytest.mark.parametrize("name", sorted(NOT_JSON))
def test_a_list_that_is_not_json_is_not_matched(name):
    text = NOT_JSON[name]
    with pytest.raises(ValueError):
        json.loads(text)
    assert canonical.SPAN(text, 0) is None


def test_json_of_spliced_and_parsed_spans_in_one_line_is_the_records_document(env, home):
    """A line laid out as traceexec writes lines, holding every case above, a span of
    another trace and two resources: ``show --json`` gives the records' document."""
    from test_document import records_document
    from traceexec.store import local as store

    texts = [text.replace(SPAN_ID, "%016x" % (0x100 + number)).replace(
        SPAN_ID.upper(), "%016X" % (0x100 + number))
        for number, text in enumerate(list(SPLICED.values()) + list(PARSED.values()))]
    texts.insert(3, span_text().replace(TRACE, "ab" * 16))
    resource = '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"%s"}}]}'
    line = '{"resourceSpans":[%s,"scopeSpans":[{"scope":{"name":"traceexec"},"spans":[%s]},' \
        '{"scope":{"name":"sdk","version":"1"},"spans":[]}]},%s,"scopeSpans":[{"scope":' \
        '{"name":"sdk"},"spans":[%s]}]}]}\n' % (resource % "a", ",".join(texts[:20]),
                                              resource % "b", ",".join(texts[20:]))
    store.ensure_dir(store.store_dir(str(home)))
    with open(os.path.join(store.store_dir(str(home)), store.INCOMING), "ab") as handle:
        handle.write(line.encode("utf-8", "surrogatepass"))
    result = run_traceexec(["show", "--json", TRACE], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == records_document(home)
    found = document._spliced(line.encode("utf-8", "surrogatepass"), TRACE)
    assert found is not None and len(found) == len(texts) - 1  # laid out as traceexec writes
