"""A DAG step's span as the local store's text, from what every step of the run shares.

``spans.step_record`` builds a record of some twenty attributes that ``otlp_text`` then
walks again, and most of it is the same for every step of a run: the trace, the parent,
the run's attributes, the status words.  When the text is all that is kept (the local
store alone: ``telemetry.Recorder.step_span``), ``StepTexts(who).text(result)`` writes a
plain step's span (it ran and succeeded: no reason, no executor attributes, no sub-runs,
no links but its ``depends``) from those parts, encoded once per run, and the step's own
values; byte for byte what ``otlp_text.span_text(spans.step_record(who, result))``
writes, which any other step gets.

    texts = StepTexts(who)
    [texts.text(result) for result in ended]
"""
from __future__ import annotations

from _json import encode_basestring_ascii as _string

from . import model, spans
from ..delivery import otlp_text, span
from ..delivery.incoming import is_trace_id
from ..wrap.supervise import process_attributes
from .spans import seconds

HEADS_KEPT = 64
"""Command lines (with their directory and program) whose first attributes keep their text:
a DAG's steps repeat theirs."""
_HEAD_KEYS = ("process.executable.name", "process.command_args",
              "process.working_directory", "process.executable.path")
_FINITE = float.fromhex("0x1.fffffffffffffp+1023")
_SLOT = "\x00"
"""Where a step's own text goes in the run's template (JSON text has no raw NUL)."""
_SLOTS = 17


def _pair(key, value_text) -> str:
    return '{"key":%s,"value":%s}' % (_string(key), value_text)


class StepTexts:
    """The step spans of one run (``spans.RunIdentity``) as text."""

    def __init__(self, who: spans.RunIdentity):
        self.who = who
        self._heads: dict = {}
        self._pieces = None  # no template: every step the general way
        ctx, state = who.ctx, who.incoming.tracestate or ""
        word = who.dag.word(model.SUCCEEDED)
        if not (type(ctx.trace_id) is str and is_trace_id(ctx.trace_id)
                and type(ctx.span_id) is str and type(ctx.flags) is int
                and type(state) is str and type(who.run_id) is str and type(word) is str):
            return
        trace = _string(ctx.trace_id)
        state = ',"traceState":' + _string(state) if state else ""
        number, string, double = '{"intValue":"\x00"}', '{"stringValue":\x00}', \
            '{"doubleValue":\x00}'
        template = "".join((
            '{"traceId":', trace, ',"spanId":\x00,"name":"Step: \x00,"kind":', str(span.KIND_CLIENT),
            ',"startTimeUnixNano":"\x00","endTimeUnixNano":"\x00","attributes":[\x00,',
            _pair("process.pid", number),
            ',', _pair("process.exit.code", '{"intValue":"0"}'),
            ',', _pair("traceexec.process.cpu.user", double),
            ',', _pair("traceexec.process.cpu.system", double),
            ',', _pair("traceexec.process.max_rss", number),
            ',', _pair("step.exit_code", number),
            ',', otlp_text.attributes_text(who.common())[1:-1],
            ',', _pair("step.name", string),
            ',', _pair("step.status", '{"stringValue":%s}' % _string(word)),
            ',', _pair("cicd.pipeline.task.name", string),
            ',', _pair("cicd.pipeline.task.run.id",
                       '{"stringValue":%s\x00}' % _string(who.run_id + "/")[:-1]),
            ',', _pair("cicd.pipeline.task.run.result", '{"stringValue":"success"}'),
            '\x00,', _pair("step.attempts", number),
            '],"status":{"code":', str(span.STATUS_OK), '},"flags":',
            str(0x100 | (ctx.flags & 0xFF)),
            ',"parentSpanId":' + _string(ctx.span_id) if ctx.span_id else "", state,
            '\x00\x00}'))
        self._pieces = template.split(_SLOT)
        if len(self._pieces) != _SLOTS + 1:  # a NUL of the run's own: the general way
            self._pieces = None
        self._link = ('{"traceId":' + trace + ',"spanId":',
                      ',"attributes":' + otlp_text.attributes_text(
                          {spans.LINK_TYPE: "depends"}) + state + "}")

    def text(self, result: model.StepResult) -> str:
        """The span text of the step ``result``, as its record's."""
        text = self._pieces is not None and self._plain(result)
        return text or otlp_text.span_text(spans.step_record(self.who, result))

    def _plain(self, result):
        """The text of a plain step; None for any other."""
        step, outcome = result.step, result.outcome
        if (result.status != model.SUCCEEDED or outcome is None or result.reason
                or result.attributes or result.children or result.links or result.reused
                or result.failure_allowed or step.call is not None
                or outcome.problem is not None or outcome.signal is not None
                or outcome.timed_out or type(outcome.exit_status) is not int
                or outcome.exit_status):
            return None
        name, step_id, span_id = step.name, step.id, result.span_id
        code = result.exit_code_override
        if code is None:
            code = outcome.exit_status
        pid, user, system, rss = outcome.pid, outcome.user_cpu, outcome.system_cpu, \
            outcome.max_rss
        start, end = result.start_ns, result.end_ns
        if not (type(name) is str and type(span_id) is str and type(code) is int
                and type(pid) is int and pid and type(user) is float
                and type(system) is float and type(rss) is int
                and type(start) is int and type(end) is int
                and (not step_id or type(step_id) is str)):
            return None
        user, system = round(user, 6), round(system, 6)
        if not (-_FINITE <= user <= _FINITE and -_FINITE <= system <= _FINITE):
            return None
        head = self._head(result, outcome)
        events = self._events(result.attempts)
        if head is None or events is None:
            return None
        links = ""
        if result.waited_for:
            opening, closing = self._link
            links = []
            for upstream in result.waited_for:
                if type(upstream.span_id) is not str:
                    return None
                links.append(opening + _string(upstream.span_id) + closing)
            links = ',"links":[' + ",".join(links) + "]"
        # each string encoded once: the span name and the task run id are the step's
        # name and span id after text of the template's ("Step: ", the run id and "/"),
        # and JSON text escapes a string character by character
        name, span_id = _string(name), _string(span_id)
        step_id = ',{"key":"step.id","value":{"stringValue":' + _string(step_id) + "}}" \
            if step_id else ""
        p = self._pieces  # an f-string: ints and floats written as str() and repr() would
        return (f"{p[0]}{span_id}{p[1]}{name[1:]}{p[2]}{start}"
                f"{p[3]}{end if end > start else start}{p[4]}{head}{p[5]}{pid}{p[6]}{user!r}"
                f"{p[7]}{system!r}{p[8]}{rss}{p[9]}{code}{p[10]}{name}{p[11]}{name}{p[12]}"
                f"{span_id[1:]}{p[13]}{step_id}{p[14]}"
                f"{len(result.attempts)}{p[15]}{events}{p[16]}{links}{p[17]}")

    def _head(self, result, outcome):
        """The first process attributes' text (program, arguments, directory, path), kept
        by command line; None for a command line that cannot be kept."""
        argv, cwd, path = result.argv or [], result.cwd, outcome.path
        try:
            key = (tuple(argv), cwd, path)
            head = self._heads.get(key)
        except TypeError:  # something unhashable
            return None
        if head is None:
            attrs = process_attributes(outcome, argv, cwd=cwd, path=path,
                                       args=spans.redacted_arguments(argv))
            first = {}
            for name, value in attrs.items():
                if name not in _HEAD_KEYS:
                    break
                first[name] = value
            head = otlp_text.attributes_text(first)[1:-1]
            if len(self._heads) >= HEADS_KEPT:
                del self._heads[next(iter(self._heads))]  # the oldest
            self._heads[key] = head
        return head or None

    @staticmethod
    def _events(attempts):
        """The attempt events' text; None when one is not plain."""
        if not attempts:
            return ""
        texts = []
        for attempt in attempts:
            number, code, start, end = attempt.number, attempt.exit_status, \
                attempt.start_ns, attempt.end_ns
            if not (type(number) is int and type(code) is int and type(start) is int
                    and type(end) is int and attempt.error_type is None):
                return None
            took = end - start  # spans.seconds(took), without its call and checks
            took = (took + 500) // 1000 / 1e6 if (
                0 <= took < 1_000_000_000_000_000 and took % 1000 != 500) else seconds(took)
            if not -_FINITE <= took <= _FINITE:
                return None
            texts.append(f"{_EVENT[0]}{end}{_EVENT[1]}{number}{_EVENT[2]}{code}{_EVENT[3]}"
                         f"{took!r}{_EVENT[4]}")
        return ',"events":[' + ",".join(texts) + "]"


_EVENT = ('{"timeUnixNano":"\x00","name":"attempt","attributes":['
          + _pair("attempt", '{"intValue":"\x00"}') + ","
          + _pair("exit_code", '{"intValue":"\x00"}') + ","
          + _pair("duration_s", '{"doubleValue":\x00}') + "]}").split(_SLOT)
