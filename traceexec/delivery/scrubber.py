"""Keeping export header values (tokens) out of every message we print.

Header values are sent and never formatted into a message by our code, but
failure reasons come from elsewhere too: a collector's error body, a TLS or
gRPC library's text.  ``Scrubber`` replaces a secret in any form a library or
a server may print it in: as given, stripped, each long part of it ("Bearer
TOKEN" has TOKEN), quoted as Python or JSON would (``\\r``, ``\\u00e9``),
percent-encoded, base64, as UTF-8 bytes read as Latin-1 (and that quoted
again) or shown as ``\\xNN``.
"""

MASK = "***"
MIN_PART = 6
"""Parts of a value this long or longer are secrets by themselves."""


def _forms(secret: str) -> set:
    import base64
    import json
    from urllib.parse import quote, quote_plus
    raw = secret.encode("utf-8", "surrogateescape")
    forms = {repr(raw)[2:-1], quote(raw, safe=""), quote(raw, safe="/"),
             quote_plus(raw, safe=""), quote(raw, safe="").lower(), raw.hex(),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
             base64.b64encode(raw).decode().rstrip("=")}
    # as text, and as its UTF-8 bytes read as Latin-1 (HTTP libraries do), each quoted
    for text in (secret, raw.decode("latin-1")):
        forms.update((text, repr(text)[1:-1], json.dumps(text)[1:-1],
                      json.dumps(text, ensure_ascii=False)[1:-1]))
    return {f for f in forms if f}


def _parts(value: str) -> set:
    import re
    parts = {value, value.strip()}
    parts.update(p for p in re.split(r"[\s,;=:]+", value) if len(p) >= MIN_PART)
    return {p for p in parts if p}


class Scrubber:
    """Replaces every form of the given secrets in a text by ``***``.

    >>> Scrubber(["Bearer abc123xyz"]).scrub("401: bad token 'abc123xyz'")
    "401: bad token '***'"
    """

    def __init__(self, secrets):
        self.secrets = [str(s) for s in secrets if s]
        self._forms = None  # made at the first scrub: most exporters never need them

    @property
    def forms(self) -> list:
        if self._forms is None:
            forms = set()
            for secret in self.secrets:
                for part in _parts(secret):
                    forms.update(_forms(part))
            self._forms = sorted(forms, key=len, reverse=True)  # longest first
        return self._forms

    def scrub(self, text) -> str:
        text = str(text)
        if not self.secrets:
            return text
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
