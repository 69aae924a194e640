"""Our HPACK against the reference codec (PyPI ``hpack``): its static table, its
Huffman strings, its dynamic table, and our literals read back by it."""
import random

import pytest

from traceexec.delivery import hpack


def test_the_static_table_is_rfc_7541_appendix_a():
    from hpack.table import HeaderTable
    assert hpack.STATIC == [tuple(entry) for entry in HeaderTable.STATIC_TABLE]


def test_the_huffman_code_is_rfc_7541_appendix_b():
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
    codes = hpack._huffman_codes()
    assert {symbol: (length, code) for (length, code), symbol in codes.items()} == {
        symbol: (REQUEST_CODES_LENGTH[symbol], REQUEST_CODES[symbol]) for symbol in range(257)}


BLOCKS = [
    [(":status", "200"), ("content-type", "application/grpc"), ("grpc-encoding", "identity")],
    [(":status", "200"), ("grpc-status", "3"), ("grpc-message", "bad span: caf\u00e9 %20 \u2713")],
    [("x-%d" % i, "v" * i) for i in range(120)],  # fills and evicts the dynamic table
    [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0")],
]


@pytest.mark.parametrize("huffman", [True, False])
def test_blocks_from_the_reference_encoder_decode(huffman):
    from hpack import Encoder
    encoder, decoder = Encoder(), hpack.Decoder()
    for headers in BLOCKS * 2:
        block = encoder.encode(headers, huffman=huffman)
        decoded = [(n.decode(), v.decode()) for n, v in decoder.decode(block)]
        assert decoded == headers
    encoder.header_table_size = 100  # a size update in the next block
    assert decoder.decode(encoder.encode(BLOCKS[0]))[0] == (b":status", b"200")
    assert decoder.max_size == 100 and decoder.size <= 100


def test_random_bytes_huffman_round_trip():
    from hpack.huffman import HuffmanEncoder
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
    encoder = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
    chance = random.Random(3)
    for size in range(0, 200, 7):
        data = bytes(chance.randrange(256) for _ in range(size))
        assert hpack.huffman_decode(encoder.encode(data)) == data


def test_our_literals_read_back_by_the_reference_decoder():
    from hpack import Decoder
    headers = [(b":method", b"POST"), (b"authorization", b"Bearer t\xc3\xa9"), (b"x", b"")]
    block = hpack.encode(headers, sensitive={b"authorization"})
    assert [(n.encode(), v.encode()) for n, v in Decoder().decode(block)] == headers


@pytest.mark.parametrize("block", [b"\xff", b"\x80", b"\x40\x85abc", b"\x3f\xff\xff\xff\xff\x0f"])
def test_bad_blocks_are_hpack_errors(block):
    with pytest.raises(hpack.HpackError):
        hpack.Decoder().decode(block)
