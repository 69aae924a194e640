"""HTML that is safe by construction: text is escaped unless it is ``Markup``.

Pages are built from ``tag`` calls; a value from a span can only ever be text,
so a span named ``<script>`` shows as those characters.

    >>> str(tag("td", "<script>", class_="name"))
    '<td class="name">&lt;script&gt;</td>'
"""
from __future__ import annotations

import html
import json

VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "col"})


class Markup(str):
    """Text that is already HTML; only this module and its callers' literals make it."""

    __slots__ = ()


def escape(value) -> Markup:
    """``value`` as HTML text; Markup passes through, anything else is quoted."""
    if isinstance(value, Markup):
        return value
    text = value if isinstance(value, str) else str(value)
    # lone surrogates (names that were not UTF-8) cannot be encoded: show them escaped
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return Markup(html.escape(text, quote=True))


def concat(*parts) -> Markup:
    """Parts (text escaped, Markup kept, None and False left out) joined."""
    out = []
    for part in parts:
        if part is None or part is False:
            continue
        if isinstance(part, (list, tuple)):
            out.append(concat(*part))
        else:
            out.append(escape(part))
    return Markup("".join(out))


def tag(element: str, /, *children, **attributes) -> Markup:
    """An element; ``class_`` for class, ``data_x`` for data-x; True means a bare attribute."""
    words = [element]
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        words.append(key if value is True else '%s="%s"' % (key, escape(value)))
    opening = "<%s>" % " ".join(words)
    if element in VOID:
        return Markup(opening)
    return Markup("%s%s</%s>" % (opening, concat(*children), element))


def json_script(element_id: str, data) -> Markup:
    """Data for the page's script, as JSON that cannot end the element it sits in."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
                      default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup('<script type="application/json" id="%s">%s</script>' % (
        escape(element_id), text))
