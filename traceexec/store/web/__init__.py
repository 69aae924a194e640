"""The web viewer of the local store: pages served by ``traceexec serve`` on their own port,
and the same trace page as one self-contained file (``traceexec show --html``).

Pages are built on the server with ``markup`` (everything from a span is escaped by
construction); a little plain JavaScript (``static/viewer.js``) draws the waterfall rows
of big traces.  No build step, nothing fetched from elsewhere.
"""
