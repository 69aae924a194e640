"""``Reader``: OTEL_* and TRACEEXEC_* variables read by the specification's rules.

Apart from ``settings`` (the export settings in full), which a run with nothing set never
loads: a DAG run reads OTEL_PROPAGATORS and OTEL_TRACES_SAMPLER through a ``Reader``
whatever is set.  ``config.Reader`` names it.
"""

from .. import errors
from .config import EXPORTERS, GRPC, HTTP


def _shown(value: str) -> str:
    value = errors.printable(value)
    return value if len(value) <= 64 else value[:61] + "..."


class Reader:
    """OTEL_* and TRACEEXEC_* variables read as the specification says: a value that
    cannot be used adds one line to ``problems`` (naming the variable) and the
    setting keeps its default."""

    def __init__(self, environ, problems: list):
        self.environ = environ
        self.problems = problems

    def get(self, name: str):
        value = self.environ.get(name)
        return None if value is None or not value.strip() else value.strip()

    def name_of(self, suffix: str) -> str:
        """OTEL_EXPORTER_OTLP_TRACES_<suffix> when set, else OTEL_EXPORTER_OTLP_<suffix>."""
        specific = "OTEL_EXPORTER_OTLP_TRACES_" + suffix
        return specific if self.get(specific) is not None else "OTEL_EXPORTER_OTLP_" + suffix

    def boolean(self, name: str) -> bool:
        """Only ``true`` (any case) is true; a value neither true nor false is warned.
        traceexec's own TRACEEXEC_* switches also take ``1``, ``yes`` and ``on`` (and
        ``0``, ``no``, ``off``), as they always did."""
        value = self.get(name)
        own = name.startswith("TRACEEXEC_")
        if value is None:
            return False
        if value.lower() == "true":
            return True
        if own:
            from .settings import is_true
            if is_true(value):
                return True
        if value.lower() in (("false", "0", "no", "off") if own else ("false",)):
            return False
        self.problems.append("%s=%s is neither true nor false: read as false"
                             % (name, _shown(value)))
        return False

    def milliseconds(self, name: str, default_s: float) -> float:
        value = self.get(name)
        if value is None:
            return default_s
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0 < number < float("inf"):
            self.problems.append("%s=%s is not a number of milliseconds > 0: %gs used"
                                 % (name, _shown(value), default_s))
            return default_s
        return number / 1000.0

    def duration(self, name: str, default_s: float) -> float:
        """A TRACEEXEC_* duration (``30s``, ``10m``, a bare number of seconds)."""
        value = self.get(name)
        if value is None:
            return default_s
        from .settings import parse_duration
        try:
            return parse_duration(value, name)
        except errors.ConfigError:
            self.problems.append("%s=%s is not a duration like 10m: %gs used"
                                 % (name, _shown(value), default_s))
            return default_s

    def choice(self, name: str, allowed: tuple, default: str) -> str:
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in allowed:
            return value.lower()
        self.problems.append("%s=%s is not supported (%s): %s used"
                             % (name, _shown(value), ", ".join(allowed), default))
        return default

    def protocol(self):
        """The OTLP protocol asked for, or None (then the endpoint's form decides)."""
        name = self.name_of("PROTOCOL")
        value = self.get(name)
        if value is None:
            return None
        value = value.lower()
        if value in (GRPC, HTTP):
            return value
        if value == "http/json":
            self.problems.append("%s=http/json is not supported: http/protobuf used" % name)
            return HTTP
        self.problems.append("%s=%s is not supported (grpc, http/protobuf): ignored"
                             % (name, _shown(value)))
        return None

    def exporters(self) -> tuple:
        """OTEL_TRACES_EXPORTER, a comma-separated list; default ``otlp``."""
        value = self.get("OTEL_TRACES_EXPORTER")
        if value is None:
            return ("otlp",)
        chosen = []
        for item in value.lower().split(","):
            item = item.strip()
            if not item:
                continue
            if item not in EXPORTERS:
                self.problems.append("OTEL_TRACES_EXPORTER: %s is not supported (otlp, "
                                     "console, none): left out" % _shown(item))
                continue
            item = "otlp" if item == "traceexec" else item
            if item not in chosen:
                chosen.append(item)
        if "none" in chosen:
            if len(chosen) == 1:
                return ()
            self.problems.append("OTEL_TRACES_EXPORTER: none beside other exporters is "
                                 "left out")
            chosen.remove("none")
        return tuple(chosen) or ("otlp",)
