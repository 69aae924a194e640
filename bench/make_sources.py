"""The real source trees the make benchmark and tests build, from PyPI.

jq's Python binding (jq==1.8.0) ships jq 1.7.1's release tarball (configure +
automake + libtool), and in it Oniguruma (autotools and CMake).  lupa's sdist
(lupa==2.8) bundles the sources of Lua 5.1.5, a plain Makefile project whose
Makefiles recurse (``cd src && $(MAKE) $@``).  Each sdist is fetched once into
the user's cache (jq's with pip, lupa's straight from PyPI's JSON API, its
sha256 checked), so re-runs do not download again; no Python package is built.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import urllib.request

SDIST = "jq==1.8.0"
ARCHIVE = "jq-1.8.0.tar.gz"
INNER = "jq-1.8.0/deps/jq-1.7.1.tar.gz"
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "traceexec-tests", "sdist")


def sdist_path() -> str:
    """The sdist in the cache, downloaded first if it is not there yet."""
    path = os.path.join(CACHE, ARCHIVE)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", SDIST, "-d", CACHE],
                       check=True, capture_output=True, timeout=600)
    return path


def extract_jq(directory) -> str:
    """jq 1.7.1's source tree under ``directory`` (its path returned)."""
    with tarfile.open(sdist_path()) as outer:
        with tarfile.open(fileobj=outer.extractfile(outer.getmember(INNER))) as inner:
            inner.extractall(directory, filter="tar")
    return os.path.join(str(directory), "jq-1.7.1")


LUPA = ("lupa", "2.8", "d8022641b9ec8ecf2c5ecbe9f47e5a70e0b87c4b5ae921b92cb02a638e0acd08")
"""lupa's sdist: name, pinned version, the sha256 PyPI publishes for it."""
MAX_SDIST_BYTES = 64 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(name: str, version: str, sha256: str) -> str:
    """The sdist of ``name==version`` in the cache, downloaded from PyPI first if it is
    not there: its address from the JSON API, its content checked against ``sha256``."""
    path = os.path.join(CACHE, "%s-%s.tar.gz" % (name, version))
    if os.path.exists(path) and _sha256(path) == sha256:
        return path
    api = "https://pypi.org/pypi/%s/json" % name
    with urllib.request.urlopen(api, timeout=60) as answer:
        project = json.loads(answer.read(MAX_JSON_BYTES))
    [url] = [entry["url"] for entry in project["releases"][version]
             if entry["packagetype"] == "sdist" and entry["digests"]["sha256"] == sha256]
    os.makedirs(CACHE, exist_ok=True)
    partial = "%s.%d" % (path, os.getpid())
    with urllib.request.urlopen(url, timeout=300) as answer, open(partial, "wb") as out:
        out.write(answer.read(MAX_SDIST_BYTES + 1))
    if os.path.getsize(partial) > MAX_SDIST_BYTES or _sha256(partial) != sha256:
        os.unlink(partial)
        raise RuntimeError("%s: not the sdist of %s==%s (sha256)" % (url, name, version))
    os.replace(partial, path)
    return path


def extract_lua51(directory) -> str:
    """Lua 5.1.5's source tree from lupa's sdist under ``directory`` (its path returned)."""
    name, version, _ = LUPA
    top = "%s-%s/third-party/lua51" % (name, version)
    with tarfile.open(fetch_sdist(*LUPA)) as sdist:
        members = [m for m in sdist.getmembers() if m.name == top
                   or m.name.startswith(top + "/")]
        sdist.extractall(directory, members=members, filter="tar")
    return os.path.join(str(directory), top)
