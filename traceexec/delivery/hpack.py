"""HPACK (RFC 7541), as much as a gRPC client needs: header blocks written as
plain literals (no table, no Huffman: always valid), and read in full (static
and dynamic tables, Huffman strings), since a server may use all of it.

    block = encode([(b":status", b"200")])
    Decoder().decode(block)      # [(b":status", b"200")]
"""

_STATIC_NAMES = (
    ":authority :method :method :path :path :scheme :scheme :status :status :status :status "
    ":status :status :status accept-charset accept-encoding accept-language accept-ranges "
    "accept access-control-allow-origin age allow authorization cache-control "
    "content-disposition content-encoding content-language content-length content-location "
    "content-range content-type cookie date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified link location "
    "max-forwards proxy-authenticate proxy-authorization range referer refresh retry-after "
    "server set-cookie strict-transport-security transfer-encoding user-agent vary via "
    "www-authenticate").split()
_STATIC_VALUES = {2: "GET", 3: "POST", 4: "/", 5: "/index.html", 6: "http", 7: "https",
                  8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500",
                  16: "gzip, deflate"}
STATIC = [(name.encode(), _STATIC_VALUES.get(index, "").encode())
          for index, name in enumerate(_STATIC_NAMES, 1)]
"""RFC 7541 Appendix A: the static table, entries 1 to 61."""

# RFC 7541 Appendix B: the Huffman code's length in bits for each symbol 0-256 (256 is
# EOS), one character each (chr(48 + length)).  The code is canonical: codes of the
# same length are consecutive in symbol order, so the lengths define it.
_LENGTHS = (
    "=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777"
    "878=C=>6?56565666577666567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEF"
    "GGEEFEGFGGDFFFGFFGJJDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN")
_CODES = None


class HpackError(ValueError):
    """A header block that cannot be decoded (a connection error in HTTP/2)."""


def _huffman_codes() -> dict:
    """{(length, code): symbol} of the canonical code."""
    global _CODES
    if _CODES is None:
        lengths = [ord(c) - 48 for c in _LENGTHS]
        order = sorted(range(257), key=lambda s: (lengths[s], s))
        code, previous, codes = -1, lengths[order[0]], {}
        for symbol in order:
            code = (code + 1) << (lengths[symbol] - previous)
            previous = lengths[symbol]
            codes[(previous, code)] = symbol
        _CODES = codes
    return _CODES


def huffman_decode(data: bytes) -> bytes:
    codes = _huffman_codes()
    out = bytearray()
    code = length = 0
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            symbol = codes.get((length, code))
            if symbol is not None:
                if symbol == 256:
                    raise HpackError("EOS in a Huffman string")
                out.append(symbol)
                code = length = 0
            elif length > 30:
                raise HpackError("bad Huffman code")
    if length > 7 or code != (1 << length) - 1:  # padding: at most 7 bits, all ones
        raise HpackError("bad Huffman padding")
    return bytes(out)


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return _integer(len(data), 7, 0) + data


def encode(headers, sensitive=()) -> bytes:
    """A header block of literals without indexing; names in ``sensitive`` are
    marked never-indexed (so no proxy on the way keeps them in a table)."""
    return b"".join((b"\x10" if name in sensitive else b"\x00") + _string(name) + _string(value)
                    for name, value in headers)


class Decoder:
    """Decodes a connection's header blocks in order, keeping its dynamic table."""

    def __init__(self, max_size: int = 4096):
        self.table = []  # newest first
        self.size = 0
        self.max_size = self.limit = max_size

    def _entry(self, index: int) -> tuple:
        if 1 <= index <= len(STATIC):
            return STATIC[index - 1]
        if 0 < index - len(STATIC) <= len(self.table):
            return self.table[index - len(STATIC) - 1]
        raise HpackError("header index %d out of range" % index)

    def _add(self, name: bytes, value: bytes) -> None:
        self.table.insert(0, (name, value))
        self.size += len(name) + len(value) + 32
        self._evict()

    def _evict(self) -> None:
        while self.size > self.max_size and self.table:
            name, value = self.table.pop()
            self.size -= len(name) + len(value) + 32

    def decode(self, block: bytes) -> list:
        """[(name, value)] of a complete header block (bytes)."""
        headers, offset = [], 0
        while offset < len(block):
            byte = block[offset]
            if byte & 0x80:  # indexed field
                index, offset = _read_integer(block, offset, 7)
                headers.append(self._entry(index))
            elif byte & 0x40:  # literal, added to the table
                name, value, offset = self._literal(block, offset, 6)
                self._add(name, value)
                headers.append((name, value))
            elif byte & 0x20:  # dynamic table size update
                size, offset = _read_integer(block, offset, 5)
                if size > self.limit:
                    raise HpackError("table size update past the limit")
                self.max_size = size
                self._evict()
            else:  # literal without indexing, or never indexed
                name, value, offset = self._literal(block, offset, 4)
                headers.append((name, value))
        return headers

    def _literal(self, block, offset, prefix_bits) -> tuple:
        index, offset = _read_integer(block, offset, prefix_bits)
        if index:
            name = self._entry(index)[0]
        else:
            name, offset = _read_string(block, offset)
        value, offset = _read_string(block, offset)
        return name, value, offset


def _read_integer(data: bytes, offset: int, prefix_bits: int) -> tuple:
    limit = (1 << prefix_bits) - 1
    value = data[offset] & limit
    offset += 1
    if value < limit:
        return value, offset
    shift = 0
    while True:
        if offset >= len(data) or shift > 28:
            raise HpackError("bad integer in a header block")
        byte = data[offset]
        offset += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def _read_string(data: bytes, offset: int) -> tuple:
    if offset >= len(data):
        raise HpackError("truncated header block")
    huffman = data[offset] & 0x80
    length, offset = _read_integer(data, offset, 7)
    raw = data[offset:offset + length]
    if len(raw) != length:
        raise HpackError("truncated header block")
    return (huffman_decode(raw) if huffman else bytes(raw)), offset + length
