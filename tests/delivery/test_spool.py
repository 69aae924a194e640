"""The spool's frames and the shared append: torn writes cost one span, never their neighbours.

Real faults: a writer under RLIMIT_FSIZE that runs out of file space mid-write
(EFBIG after a short write, as with a full disk), in its own process.
"""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from traceexec import files
from traceexec.delivery import frames, otlp, span, spool

T = "4bf92f3577b34da6a3ce929d0e0e4736"


def record(i, size=40):
    return span.new_record(trace_id=T, span_id="%016x" % (0x1000 + i), name="step-%d" % i,
                           start_ns=i, end_ns=i + 1, attributes={"pad": "x" * size})


def ids(data):
    found, _ = frames.scan(data)
    return [otlp.describe(body)["span_id"] for _, body in found]


def test_frames_round_trip_and_skip_header():
    data = spool.encode([record(i) for i in range(3)])
    found, bad = frames.scan(data)
    assert bad == [] and len(found) == 3 and found[-1][0] == len(data)
    marked = frames.skip_header(found[0][0]) + data[frames.HEADER:]
    assert ids(marked) == ["%016x" % 0x1001, "%016x" % 0x1002]


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 30, -1])
def test_a_torn_frame_costs_only_itself(cut):
    good = spool.encode([record(0)])
    torn = spool.encode([record(1)])
    torn = torn[:cut] if cut > 0 else torn[:len(torn) + cut]
    after = spool.encode([record(2), record(3)])
    data = good + torn + after
    found, bad = frames.scan(data)
    assert ids(data) == ["%016x" % 0x1000, "%016x" % 0x1002, "%016x" % 0x1003]
    assert bad == [(len(good), len(good) + len(torn))]


def test_damage_inside_a_body_is_found_by_the_checksum():
    data = bytearray(spool.encode([record(i) for i in range(3)]))
    first_end = frames.scan(bytes(data))[0][0][0]
    data[first_end + 40] ^= 0x01  # one bit of the second span's body
    assert ids(bytes(data)) == ["%016x" % 0x1000, "%016x" % 0x1002]
    garbage = b"\x7fTXS" + (10).to_bytes(4, "little") + b"\0" * 4 + b"0123456789"
    assert frames.scan(garbage + bytes(data))[1][0] == (0, len(garbage))


def test_a_skip_header_is_data_anywhere_but_the_start():
    planted = record(0)
    planted["attributes"]["pad"] = "\x7fTXK" + "\xff" * 8  # a SKIP-like run inside a body
    data = spool.encode([planted, record(1)])
    assert len(ids(data)) == 2
    torn = spool.encode([record(2)])[:20] + b"\x7fTXK" + (1 << 20).to_bytes(4, "little")
    assert ids(torn + data) == ["%016x" % 0x1000, "%016x" % 0x1001]


WRITER = """
import resource, sys
sys.path.insert(0, %r)
from traceexec import files
path, limit, size, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    files.append_log(path, (b"y" * (size - 1)) + (b"\\n" if line else b"z"), line=line)
except OSError as error:
    print(error.errno)
"""


def test_a_writer_out_of_file_space_mid_write_leaves_nothing_behind(tmp_path):
    path = str(tmp_path / "current.log")
    first = spool.encode([record(0)])
    files.append_log(path, first)
    limit = len(first) + 100  # the next span does not fit: a short write, then EFBIG
    result = subprocess.run([sys.executable, "-c", WRITER % ROOT, path, str(limit), "4000", "0"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "27", result  # EFBIG, raised to the writer
    assert os.path.getsize(path) == len(first)  # the torn part was cut back off
    files.append_log(path, spool.encode([record(2)]))
    assert ids(spool.read_bytes(path)) == ["%016x" % 0x1000, "%016x" % 0x1002]


def test_a_line_log_starts_a_fresh_line_after_a_torn_one(tmp_path):
    path = str(tmp_path / "incoming.jsonl")
    files.append_log(path, b'{"a":1}\n', line=True)
    with open(path, "ab") as handle:
        handle.write(b'{"torn":')  # a writer killed mid-line
    files.append_log(path, b'{"b":2}\n', line=True)
    assert open(path, "rb").read().split(b"\n") == [b'{"a":1}', b'{"torn":', b'{"b":2}', b""]


def test_spool_file_names_carry_their_count_once(tmp_path):
    from traceexec.delivery import limit
    directory = str(tmp_path / "d")
    spool.write(directory, [record(i) for i in range(5)])
    (path,) = spool.pending(directory)
    assert spool.counted_spans(path) is None
    counted, count = limit._counted(path)
    assert count == 5 and spool.counted_spans(counted) == 5
    assert limit._counted(counted) == (counted, 5)  # never renamed again
