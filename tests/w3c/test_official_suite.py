"""The W3C Trace Context validation suite, run against the real binary through adapter.py.

The suite (github.com/w3c/trace-context, ``test/``) is not on any package
registry that CI reaches, so it runs only where ``W3C_TRACE_CONTEXT_DIR``
names a checkout of that repository (or its ``test`` folder); it needs
aiohttp, which it imports itself.  test_cases.py carries its cases, in our
own words, for every run.
"""
import os
import subprocess
import sys

import pytest

from conftest import free_port, traceexec_env

SUITE = os.environ.get("W3C_TRACE_CONTEXT_DIR", "")
if SUITE and os.path.isdir(os.path.join(SUITE, "test")):
    SUITE = os.path.join(SUITE, "test")
pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(SUITE, "test.py")),
    reason="the W3C suite is on no package registry CI can reach: set W3C_TRACE_CONTEXT_DIR")
ADAPTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adapter.py")


@pytest.mark.parametrize("spec_level", ["1", "2"])
def test_official_suite_at_strict_level_2(home, spec_level):
    pytest.importorskip("aiohttp", reason="the W3C harness needs aiohttp")
    port = free_port()
    env = traceexec_env(home)
    service = subprocess.Popen([sys.executable, ADAPTER, str(port)], env=env,
                               stdout=subprocess.PIPE)
    try:
        assert service.stdout.readline() == b"listening\n"
        result = subprocess.run(
            [sys.executable, "test.py", "http://127.0.0.1:%d/test" % port], cwd=SUITE,
            env=dict(env, STRICT_LEVEL="2", SPEC_LEVEL=spec_level), capture_output=True,
            text=True, timeout=600)
    finally:
        service.kill()
        service.wait()
    report = result.stdout + result.stderr
    assert result.returncode == 0 and "\nOK" in report, report[-3000:]
