"""Patterns compiled at first use: PyYAML imported with them resolves as it always did.

Each case runs in a fresh interpreter, where yaml is not imported yet."""
import subprocess
import sys

from conftest import ROOT

PROBE = """
import sys
sys.path.insert(0, %r)
from traceexec.lazyregex import LazyPattern, import_lazily
yaml = import_lazily("yaml")
resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
pattern = resolvers["y"][0][1]
assert isinstance(pattern, LazyPattern) and "match" not in vars(pattern)
import re
assert re.compile is not LazyPattern  # put back after the import
values = yaml.load("a: yes\\nb: 12\\nc: 1.5\\nd: ~\\ne: 2024-01-02\\nf: text\\ng: 0x1f\\n",
                   Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
assert "match" in vars(pattern)  # compiled when "yes" needed it
print(sorted((k, type(v).__name__, str(v)) for k, v in values.items()))
"""


def test_yaml_resolves_every_implicit_type_with_lazy_patterns():
    result = subprocess.run([sys.executable, "-c", PROBE % ROOT], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str([
        ("a", "bool", "True"), ("b", "int", "12"), ("c", "float", "1.5"),
        ("d", "NoneType", "None"), ("e", "date", "2024-01-02"), ("f", "str", "text"),
        ("g", "int", "31")])


def test_a_lazy_pattern_matches_as_the_pattern_does():
    from traceexec.lazyregex import LazyPattern
    import re
    lazy, real = LazyPattern(r"(\w+)-(\d+)", re.ASCII), re.compile(r"(\w+)-(\d+)", re.ASCII)
    for text in ("step-12", "no digits", "é-3"):
        assert bool(lazy.match(text)) == bool(real.match(text))
        assert lazy.sub(r"\2", text) == real.sub(r"\2", text)
    assert lazy.pattern == real.pattern and lazy.groups == 2
