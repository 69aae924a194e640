"""The spool's frame format: how spans sit in a spool file, and how a reader
finds them again after a torn or damaged write.

A frame is ``MAGIC``, the body's length and a checksum of the body (4 bytes
each, little-endian), then the body: one span in the OTLP wire form of
``otlp.encode``.  A reader that meets bytes that are no valid frame (a writer
killed mid-write, a disk that filled up) skips to the next ``MAGIC`` whose
frame checks out, and reports the bytes it skipped; so one torn write costs
the span that was being written, never the frames around it.

A ``SKIP`` header in place of a frame's header says that the ``length``
bytes after it were already delivered (or dropped): the exporter marks a
file's sent part with one 12-byte write instead of rewriting the file.

The checksum is Python's hash of the body read as one integer: the integer
modulo the Mersenne prime 2**61 - 1 (``sys.hash_info``), computed in C without
importing zlib (which would cost every wrapper start 0.3-0.4 ms).  Built-ins only.
"""

MAGIC = b"\x7fTXS"
SKIP = b"\x7fTXK"
HEADER = 12
MAX_BODY = 1 << 30


def checksum(body) -> int:
    value = hash(int.from_bytes(body, "little"))  # 61 bits: fold all of them into 32
    return (value ^ (value >> 32)) & 0xFFFFFFFF


def frame(body: bytes) -> bytes:
    """One frame holding ``body``."""
    return (MAGIC + len(body).to_bytes(4, "little") + checksum(body).to_bytes(4, "little")
            + body)


def skip_header(end: int) -> bytes:
    """A header, to be written at offset 0, that skips a file's first ``end`` bytes."""
    return SKIP + (end - HEADER).to_bytes(4, "little") + b"\0\0\0\0"


def _next_start(data, offset: int) -> int:
    found = data.find(MAGIC, offset)
    return found if found >= 0 else len(data)


def scan(data) -> tuple:
    """(frames, bad) of a spool file's content.

    ``frames``: (offset just after the frame, body) of each good frame, in
    order; ``bad``: (start, end) of each stretch of bytes that is no frame.
    Skipped (already delivered) parts appear in neither.
    """
    found, bad = [], []
    offset, size = 0, len(data)
    while offset < size:
        head = data[offset:offset + 4]
        # a SKIP header is only ever written at offset 0: elsewhere it is data
        if (head == MAGIC or (head == SKIP and offset == 0)) and offset + HEADER <= size:
            length = int.from_bytes(data[offset + 4:offset + 8], "little")
            end = offset + HEADER + length
            if end <= size and length <= MAX_BODY:
                if head == SKIP:
                    offset = end
                    continue
                body = data[offset + HEADER:end]
                if checksum(body) == int.from_bytes(data[offset + 8:offset + 12], "little"):
                    found.append((end, body))
                    offset = end
                    continue
        following = _next_start(data, offset + 1)
        bad.append((offset, following))
        offset = following
    return found, bad


def count(data) -> int:
    """How many good frames ``data`` holds."""
    return len(scan(data)[0])
