"""A small HTTP/2 client (RFC 9113) for one kind of exchange: a request with a
body, answered with headers, a little data and trailers (a unary gRPC call).

Several requests may be open at once on one connection (each on its own
stream); ``response`` reads frames until the stream asked for has ended,
keeping what arrives for the others.  Flow control both ways, SETTINGS, PING,
WINDOW_UPDATE, RST_STREAM and GOAWAY are handled; server push is switched off.
Standard library only (``_socket``; ``ssl`` for TLS): the exporter starts
without site-packages.
"""

import time

import _socket

from . import hpack

_IPPROTO_TCP = _socket.IPPROTO_TCP
_QUICKACK = getattr(_socket, "TCP_QUICKACK", None)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 2, 4, 5
DEFAULT_WINDOW = 65535
RECEIVE_WINDOW = 1 << 24
"""What this side lets the server send before a WINDOW_UPDATE (answers are small)."""


class Http2Error(Exception):
    """The connection failed (closed, timed out, or the server broke the protocol)."""


class Stream:
    """One request's answer as it arrives."""

    def __init__(self, number: int, window: int):
        self.number = number
        self.send_window = window
        self.headers = None  # the first header block
        self.trailers = []   # the ones after it
        self.data = bytearray()
        self.ended = False
        self.reset = None    # the RST_STREAM error code, or a reason text


class Connection:
    """One HTTP/2 connection over a connected socket (plain, or TLS with ALPN ``h2``)."""

    def __init__(self, sock):
        self.sock = sock
        self.decoder = hpack.Decoder()
        self.max_frame = 16384
        self.peer_window = DEFAULT_WINDOW  # the server's initial stream window
        self.send_window = DEFAULT_WINDOW  # the connection's
        self.streams = {}
        self.next_stream = 1
        self.going_away = None  # the last stream the server will answer, after GOAWAY
        self.buffer = bytearray()
        self._block = None  # (stream number, fragments, ends the stream) while CONTINUATION
        settings = (SETTINGS_ENABLE_PUSH.to_bytes(2, "big") + (0).to_bytes(4, "big")
                    + SETTINGS_INITIAL_WINDOW_SIZE.to_bytes(2, "big")
                    + RECEIVE_WINDOW.to_bytes(4, "big"))
        self.sock.sendall(PREFACE + _frame(SETTINGS, 0, 0, settings) + _frame(
            WINDOW_UPDATE, 0, 0, (RECEIVE_WINDOW - DEFAULT_WINDOW).to_bytes(4, "big")))

    @property
    def is_usable(self) -> bool:
        return self.going_away is None and self.next_stream < (1 << 31) - 2

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, headers, body: bytes, deadline: float, sensitive=()) -> int:
        """Open a stream, send ``headers`` then ``body``; the stream's number."""
        number = self.next_stream
        self.next_stream += 2
        stream = self.streams[number] = Stream(number, self.peer_window)
        block = hpack.encode(headers, sensitive)
        first, block = block[:self.max_frame], block[self.max_frame:]
        flags = END_HEADERS if not block else 0
        if not body:
            flags |= END_STREAM
        out = [_frame(HEADERS, flags, number, first)]
        while block:
            part, block = block[:self.max_frame], block[self.max_frame:]
            out.append(_frame(CONTINUATION, END_HEADERS if not block else 0, number, part))
        view = memoryview(body)
        while view and stream.reset is None and not stream.ended:  # answered early: stop
            allowed = min(self.send_window, stream.send_window)
            if allowed <= 0:
                self.sock.sendall(b"".join(out))
                out = []
                self._pump(deadline)  # until a WINDOW_UPDATE
                continue
            part, view = view[:allowed], view[allowed:]
            for start in range(0, len(part), self.max_frame):  # what the windows allow, at once
                chunk = part[start:start + self.max_frame]
                last = not view and start + self.max_frame >= len(part)
                out.append(_frame(DATA, END_STREAM if last else 0, number, bytes(chunk)))
            self.send_window -= len(part)
            stream.send_window -= len(part)
        if out:
            self.sock.sendall(b"".join(out))
        return number

    def response(self, number: int, deadline: float) -> Stream:
        """The stream ``number`` once it has ended (or was reset)."""
        stream = self.streams[number]
        while not stream.ended:
            self._pump(deadline)
        del self.streams[number]
        return stream

    # --- reading frames -------------------------------------------------------

    def _read(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer in time")
            self.sock.settimeout(remaining)
            if _QUICKACK is not None:
                try:  # ack at once: a server answering in several small writes under
                    # Nagle's algorithm would otherwise wait for our delayed ACK (40 ms)
                    self.sock.setsockopt(_IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    pass
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Http2Error("the server closed the connection")
            self.buffer += chunk
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def _pump(self, deadline: float) -> None:
        """Read and act on one frame."""
        head = self._read(9, deadline)
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        number = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = self._read(length, deadline) if length else b""
        if self._block is not None and kind != CONTINUATION:
            raise Http2Error("a header block was interrupted")
        if kind == DATA:
            self._data(number, flags, payload)
        elif kind in (HEADERS, CONTINUATION):
            self._headers(kind, number, flags, payload)
        elif kind == RST_STREAM:
            stream = self.streams.get(number)
            if stream is not None and not (stream.ended and stream.reset is None and
                                           not int.from_bytes(payload[:4], "big")):
                stream.reset = int.from_bytes(payload[:4], "big")
                stream.ended = True
        elif kind == SETTINGS and not flags & ACK:
            self._settings(payload)
        elif kind == PING and not flags & ACK:
            self.sock.sendall(_frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            self.going_away = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            for stream in self.streams.values():
                if stream.number > self.going_away:
                    stream.reset, stream.ended = "the server is going away (GOAWAY)", True
        elif kind == WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if number == 0:
                self.send_window += increment
            elif number in self.streams:
                self.streams[number].send_window += increment
        elif kind == PUSH_PROMISE:
            raise Http2Error("the server pushed, which this client switched off")

    def _data(self, number: int, flags: int, payload: bytes) -> None:
        if payload:  # give back what it took of the windows
            update = len(payload).to_bytes(4, "big")
            frames = _frame(WINDOW_UPDATE, 0, 0, update)
            if not flags & END_STREAM:
                frames += _frame(WINDOW_UPDATE, 0, number, update)
            self.sock.sendall(frames)
        if flags & PADDED:
            payload = payload[1:len(payload) - payload[0]] if payload else b""
        stream = self.streams.get(number)
        if stream is not None:
            stream.data += payload
            if flags & END_STREAM:
                stream.ended = True

    def _headers(self, kind: int, number: int, flags: int, payload: bytes) -> None:
        if kind == HEADERS:
            if flags & PADDED:
                payload = payload[1:len(payload) - payload[0]] if payload else b""
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            self._block = (number, [payload], bool(flags & END_STREAM))
        elif self._block is None or self._block[0] != number:
            raise Http2Error("a CONTINUATION frame out of place")
        else:
            self._block[1].append(payload)
        if not flags & END_HEADERS:
            return
        number, fragments, ends = self._block
        self._block = None
        try:
            headers = self.decoder.decode(b"".join(fragments))  # keeps the table in step
        except hpack.HpackError as error:
            raise Http2Error("a header block could not be read: %s" % error) from None
        stream = self.streams.get(number)
        if stream is None:
            return
        if stream.headers is None:
            stream.headers = headers
        else:
            stream.trailers.extend(headers)
        if ends:
            stream.ended = True

    def _settings(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - 5, 6):
            key = int.from_bytes(payload[offset:offset + 2], "big")
            value = int.from_bytes(payload[offset + 2:offset + 6], "big")
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                for stream in self.streams.values():
                    stream.send_window += value - self.peer_window
                self.peer_window = value
            elif key == SETTINGS_MAX_FRAME_SIZE:
                self.max_frame = value
        self.sock.sendall(_frame(SETTINGS, ACK, 0, b""))


def _frame(kind: int, flags: int, number: int, payload: bytes) -> bytes:
    return (len(payload).to_bytes(3, "big") + bytes((kind, flags)) + number.to_bytes(4, "big")
            + payload)
