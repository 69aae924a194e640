"""The real source trees the make benchmark and tests build, from PyPI.

jq's Python binding (jq==1.8.0) ships jq 1.7.1's release tarball (configure +
automake + libtool), and in it Oniguruma (autotools and CMake).  The sdist is
fetched once with pip into the user's cache, so re-runs do not download again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile

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
