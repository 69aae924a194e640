"""traceexec.forwarded: a module's names that live in a sibling loaded on first use
(config's in settings, context's in carriers, span's in span_json and span_reading,
supervise's CommandProblem in problems)."""
import signal
import subprocess
import sys

import pytest

from conftest import ROOT

PROBE = """
import sys
from traceexec.delivery import span, config
from traceexec.wrap import context
for module, sibling in ((span, "span_reading"), (config, "settings"), (context, "carriers")):
    full = module.__package__ + "." + sibling
    assert not hasattr(module, "__wrapped__") and full not in sys.modules, full
    try:
        module.no_such_name
    except AttributeError as error:
        assert module.__name__ in str(error), error
    assert full in sys.modules
print(span.from_otlp_json is sys.modules["traceexec.delivery.span_reading"].from_otlp_json,
      "from_otlp_json" in vars(span), "no_such_name" in vars(span))
"""


def test_a_forwarded_name_is_loaded_on_first_use_then_kept():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False"]


@pytest.mark.parametrize("module,name", [("traceexec.delivery.span", "parse_attribute"),
                                         ("traceexec.delivery.span", "_hex_id"),
                                         ("traceexec.wrap.context", "_VALUE_LAST"),
                                         ("traceexec.delivery.config", "Reader"),
                                         ("traceexec.wrap.supervise", "CommandProblem"),
                                         ("traceexec.delivery.span", "to_otlp_json")])
def test_the_moved_names_are_found_where_they_were(module, name):
    __import__(module)
    assert getattr(sys.modules[module], name) is not None


def test_a_command_that_cannot_start_is_its_problem_whichever_way_it_is_named():
    from traceexec.wrap import problems, supervise
    outcome = supervise.run(["no-such-command-here"], {"PATH": "/nowhere"})
    assert isinstance(outcome.problem, supervise.CommandProblem)
    assert supervise.CommandProblem is problems.CommandProblem
    assert (outcome.exit_status, outcome.error_type) == (127, "command_not_found")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        with pytest.raises(KeyError):  # any other exception passes the except clauses as before
            supervise.run(["true"], {"PATH": "/bin"}, while_running=lambda: {}["x"])
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # run leaves them blocked
