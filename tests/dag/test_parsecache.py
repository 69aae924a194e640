"""The cache of parsed DAG files: used only for the same bytes, never changes an outcome."""
from __future__ import annotations

import marshal
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from traceexec.dag import load, parsecache, source
from traceexec.dag.checks import DagInvalid

from conftest import traceexec_env, TRACEEXEC

DAG = "name: demo\nsteps:\n  - name: a\n    command: echo 1\n    env:\n      - K: v\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder (through XDG_CACHE_HOME) for the in-process loads."""
    monkeypatch.delenv("TRACEEXEC_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "traceexec" / "yaml"


def shape(value):
    """A value with every place spelt out, to compare trees place by place."""
    if isinstance(value, source.Mapping):
        return ("map", value.place, [(k, value.places[k], shape(v)) for k, v in value.items()])
    if isinstance(value, source.Sequence):
        return ("seq", value.place, value.places, [shape(v) for v in value])
    return (type(value).__name__, value)


def test_a_cached_file_gives_the_tree_yaml_gives(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text(DAG + "---\nname: local\nsteps: [x, 1, 2.5, true, null, 2024-01-01]\n")
    parsed = source.parse_all(str(path))
    assert len(os.listdir(cache)) == 1
    cached = source.parse_all(str(path))
    assert shape(cached) == shape(parsed)
    assert cached[0]["steps"][0].places  # places of items too
    other = tmp_path / "same-bytes.yaml"  # an entry is a function of the bytes: places
    other.write_bytes(path.read_bytes())  # name the file read now
    assert source.parse_all(str(other))[0].place == (str(other), 1)


def test_a_changed_file_of_the_same_size_and_time_is_read_again(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text("a: 1\n")
    stat = path.stat()
    assert source.parse(str(path)) == {"a": 1}
    path.write_text("a: 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.parse(str(path)) == {"a": 2}


@pytest.mark.parametrize("entry", [b"", b"garbage", marshal.dumps((parsecache.FORMAT,)),
                                   marshal.dumps((parsecache.FORMAT, b"a: 1\n", ((7, 1),))),
                                   marshal.dumps((parsecache.FORMAT, b"a: 1\n",
                                                  ((0, 1, ("a",), (-1,), (1,)),))),
                                   marshal.dumps((parsecache.FORMAT, b"a: 1\n",
                                                  ((0, 1, ("a",), (0,), ([],)),)))])
def test_a_corrupt_entry_is_ignored(tmp_path, cache, entry):
    path = tmp_path / "dag.yaml"
    path.write_text("a: 1\n")
    source.parse(str(path))
    (name,) = os.listdir(cache)
    (cache / name).write_bytes(entry)
    assert source.parse(str(path)) == {"a": 1}


def test_an_entry_for_other_bytes_under_the_same_name_is_not_used(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text("a: 1\n")
    source.parse(str(path))
    (name,) = os.listdir(cache)
    (cache / name).write_bytes(marshal.dumps((parsecache.FORMAT, b"a: 9\n",
                                              ((0, 1, ("a",), (1,), (9,)),))))
    assert source.parse(str(path)) == {"a": 1}


def test_an_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.delenv("TRACEEXEC_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = tmp_path / "dag.yaml"
    path.write_text(DAG)
    assert load.load(str(path)).steps[0].name == "a"
    assert load.load(str(path)).steps[0].name == "a"


def test_the_cache_keeps_a_bounded_number_of_entries(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(parsecache, "MAX_ENTRIES", 3)
    for number in range(5):
        path = tmp_path / ("dag%d.yaml" % number)
        path.write_text("a: %d\n" % number)
        source.parse(str(path))
    assert len(os.listdir(cache)) == 3


def test_problems_in_a_cached_file_still_name_file_and_line(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text("steps:\n  - name: a\n    command: echo\n    dependss: b\n")
    messages = []
    for _ in range(2):
        with pytest.raises(DagInvalid) as invalid:
            load.load(str(path))
        messages.append([str(problem) for problem in invalid.value.problems])
    assert os.listdir(cache)
    assert messages[0] == messages[1]
    assert messages[1][0].startswith("%s:4: unknown step key 'dependss'" % path)


BAD_V2 = """\
type: graph
defaults:
  retry_policy: {limit: 2}
steps:
  - name: a
    command: echo
    depends: [nowhere]
  - name: a
    id: env
    command: echo
    retry_policy: {limit: 1, intervall: 2}
  - id: b
    depends: c
    command: echo ${b.nothing}
  - id: c
    depends: b
    command: echo
    continue_on: {failure: maybe, exit_code: [x]}
"""


UNKNOWN_DEPENDS = "type: graph\nsteps:\n  - name: a\n    command: echo\n  - name: b\n" \
    "    command: echo\n    depends: [a, nowhere]\n"


@pytest.mark.parametrize("text, lines", [(BAD_V2, (3, 8, 11, 18)), (UNKNOWN_DEPENDS, (7,))])
@pytest.mark.parametrize("base", [None, "env:\n  - K: v\nsteps: []\n"])
def test_every_problem_of_a_cached_file_names_the_same_file_and_line(tmp_path, cache, text,
                                                                     lines, base):
    """Each key's place is built from the stored lines only when a message asks for it
    (``source.Mapping.places``): steps read as written, through ``normalize``, laid
    over ``defaults:`` and over a base config give the messages a fresh parse gives."""
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    base_path = None
    if base is not None:
        base_path = tmp_path / "base.yaml"
        base_path.write_text(base)
    messages = []
    for _ in range(2):
        with pytest.raises(DagInvalid) as invalid:
            load.load(str(path), base=base_path and str(base_path))
        messages.append([str(problem) for problem in invalid.value.problems])
    assert len(os.listdir(cache)) == 1 + (base is not None)
    assert messages[0] == messages[1]
    for line in lines:
        assert any(m.startswith("%s:%d: " % (path, line)) for m in messages[1]), messages


YAML_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(min_size=1, max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(YAML_TREES)
def test_a_stored_tree_has_the_places_of_the_parsed_one(tree):
    """The round trip ``_decode(_encode(parsed))`` keeps every value and place, the
    places of a mapping included (built only when asked)."""
    import yaml
    text = yaml.safe_dump({"root": tree}, default_flow_style=False)
    parsed = source._parse_yaml(text, "f.yaml")
    stored = marshal.loads(marshal.dumps(tuple(parsecache._encode(d, {}) for d in parsed)))
    decoded = [parsecache._decode(item, "f.yaml") for item in stored]
    assert [shape(d) for d in decoded] == [shape(d) for d in parsed]


def test_a_yaml_error_is_reported_each_time_and_not_kept(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text("steps:\n  - name: a\n    command: [echo\n")
    for _ in range(2):
        with pytest.raises(DagInvalid) as invalid:
            load.load(str(path))
        assert str(invalid.value.problems[0]).startswith("%s:4:" % path)
    assert not cache.exists() or not os.listdir(cache)


def _imports(args, env):
    result = subprocess.run([sys.executable, "-X", "importtime"] + args,
                            capture_output=True, env=env)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_a_warm_run_reads_its_dag_without_pyyaml_or_argparse(tmp_path, home):
    env = traceexec_env(home, XDG_CACHE_HOME=tmp_path / "cache")
    path = tmp_path / "one.yaml"
    path.write_text("steps:\n  - name: a\n    command: 'true'\n")
    command = TRACEEXEC[1:] + ["run", "--quiet", str(path)]
    cold = _imports(command, env)
    assert "yaml.scanner" in cold
    warm = _imports(command, env) - _imports(["-c", "pass"], env)
    assert not {m for m in warm if m.split(".")[0] in ("yaml", "argparse", "gettext")}, \
        sorted(warm)
    assert os.listdir(tmp_path / "cache" / "traceexec" / "yaml")
    assert not os.path.exists(home / "cache")  # what traceexec records stays free of it


def test_the_cache_keeps_a_bounded_number_of_bytes(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(parsecache, "MAX_TOTAL_BYTES", 600)
    for number in range(6):
        path = tmp_path / ("dag%d.yaml" % number)
        path.write_text("a: %d\nb: %s\n" % (number, "x" * 100))
        source.parse(str(path))
    sizes = [os.path.getsize(cache / name) for name in os.listdir(cache)]
    assert 1 < len(sizes) < 6 and sum(sizes) <= 600
    big = tmp_path / "big.yaml"
    big.write_text("a: %s\n" % ("y" * 700))  # its entry alone is over the bound: not kept
    assert source.parse(str(big)) == {"a": "y" * 700}
    assert sum(os.path.getsize(cache / name) for name in os.listdir(cache)) <= 600


@pytest.mark.parametrize("text", [
    "steps:\n  - name: a\n    command: deploy --token abc\n",
    "env:\n  - STRIPE_KEY: abc\nsteps: [echo]\n",
    "steps:\n  - echo ghp_0123456789abcdef0123\n",
    "steps:\n  - curl https://user:hunter2@example.com\n",
    "steps:\n  - sshpass -p hunter2 ssh host\n",
    "otel:\n  headers:\n    Authorization: Bearer abc\n",
])
def test_a_file_that_may_hold_a_secret_is_never_kept(tmp_path, cache, text):
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    assert source.parse(str(path)) == source.parse(str(path))
    assert not cache.exists() or not os.listdir(cache)


def test_the_cache_folders_are_private(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text(DAG)
    source.parse(str(path))
    for folder in (cache, cache.parent):
        assert folder.stat().st_mode & 0o777 == 0o700
    (name,) = os.listdir(cache)
    assert (cache / name).stat().st_mode & 0o777 == 0o600


def test_entry_names_spread_small_files_without_zlib_and_large_ones_with_crc32():
    import zlib
    small = b"name: a\n" * 100
    assert parsecache.spread(small) == int.from_bytes(small, "little") % 1073741789
    assert parsecache.spread(small) != parsecache.spread(small[:-2] + b"b\n")
    limit = parsecache.SPREAD_BY_NUMBER
    assert parsecache.spread(b"x" * limit) == int.from_bytes(b"x" * limit, "little") % 1073741789
    assert parsecache.spread(b"x" * (limit + 1)) == zlib.crc32(b"x" * (limit + 1))


def test_a_file_past_the_small_size_is_kept_and_found_too(tmp_path, cache):
    path = tmp_path / "dag.yaml"
    path.write_text("name: big\nsteps:\n" + "".join(
        "  - name: s%d\n    command: /bin/true\n" % i for i in range(1500)))
    assert path.stat().st_size > parsecache.SPREAD_BY_NUMBER
    parsed = source.parse_all(str(path))
    assert len(os.listdir(cache)) == 1
    assert shape(source.parse_all(str(path))) == shape(parsed)


@pytest.mark.parametrize("stored", [(0, 1, (("a",),), (1,), (1,)),       # a key not plain
                                    (0, 1, ("a",), (True,), (1,)),       # a line not an int
                                    (0, 1, ("a", "b"), (0, -1), (1, 2)),  # a line below 1
                                    (0, None, ("a",), (0,), (1,)),
                                    (0, 1, ("a",), (0, 1), (1,)),         # uneven parts
                                    (0, 0, ("a",), (1,), (1,)),
                                    (1, 1, (1, -1), (1, 2)),
                                    (1, 1, (1, 2.0), (1, 2)),
                                    (1, 1, (1,), ((0, 1, (b"k",), (1,), (1,)),)),
                                    (1, 1, (1,), ([],))])
def test_a_stored_tree_of_another_shape_is_refused(stored):
    with pytest.raises(ValueError):
        parsecache._decode(stored, "f.yaml")


def test_a_stored_tree_decodes_with_its_places():
    tree = parsecache._decode((0, 1, ("a", "b"), (1, 2), ((1, 3, (4, 5), ("x", None)), 7)),
                              "f.yaml")
    assert tree == {"a": ["x", None], "b": 7}
    assert tree.place == ("f.yaml", 1)
    assert tree.places == {"a": ("f.yaml", 2), "b": ("f.yaml", 3)}
    assert tree["a"].place == ("f.yaml", 3)
    assert tree["a"].places == [("f.yaml", 4), ("f.yaml", 5)]


def test_equal_but_different_keys_are_not_stored_as_one():
    """Equal strings and key tuples are stored once; 1 and True (equal in a dict) stay apart."""
    parsed = source._parse_yaml("- {1: a, x: /bin/true}\n- {true: b, x: /bin/true}\n"
                                "- {1.0: c}\n", "f.yaml")
    stored = marshal.loads(marshal.dumps(tuple(parsecache._encode(d, {}) for d in parsed)))
    decoded = [parsecache._decode(item, "f.yaml") for item in stored]
    assert [shape(d) for d in decoded] == [shape(d) for d in parsed]
    assert [[type(key) for key in item] for item in decoded[0]] == [[int, str], [bool, str],
                                                                     [float]]
    assert decoded[0][0]["x"] is decoded[0][1]["x"]


def test_keys_written_above_their_mapping_keep_their_lines():
    """A merge key's keys come from an anchor written earlier: lines below the mapping's."""
    parsed = source._parse_yaml("base: &b\n  x: 1\n  y: 2\nstep:\n  z: 3\n  <<: *b\n",
                                "f.yaml")
    stored = marshal.loads(marshal.dumps(tuple(parsecache._encode(d, {}) for d in parsed)))
    decoded = [parsecache._decode(item, "f.yaml") for item in stored]
    assert [shape(d) for d in decoded] == [shape(d) for d in parsed]
    step = decoded[0]["step"]
    assert step.place == ("f.yaml", 5) and step.places["x"][1] < 5
