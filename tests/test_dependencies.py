"""The install carries only what traceexec's code imports (issue 25, point 7)."""
from __future__ import annotations

import ast
import os
import re
from importlib import metadata

from conftest import ROOT


def imported_names() -> set:
    """Every module name the package's code imports, in full (``a.b.c`` and ``a.b``)."""
    names = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "traceexec")):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names.add(node.module)
                    names.update(node.module + "." + alias.name for alias in node.names)
    return names


def provides(distribution: str, module: str) -> bool:
    """Whether ``module`` is one of the distribution's own files (a namespace such as
    ``opentelemetry`` or ``google`` is shared, so the full name is what counts)."""
    path = module.replace(".", "/")
    return any(str(f) == path + ".py" or str(f).startswith(path + "/")
               for f in metadata.files(distribution) or ())


def requirements(extra=None) -> list:
    found = []
    for requirement in metadata.requires("traceexec") or ():
        name, _, marker = requirement.partition(";")
        if (extra is None) == ("extra ==" not in marker) and (
                extra is None or re.search(r"extra == .%s." % extra, marker)):
            found.append(re.split(r"[<>=!~ \[]", name.strip())[0])
    return found


def test_every_dependency_is_imported_by_traceexec_code():
    names = imported_names()
    unused = [d for d in requirements() if not any(provides(d, n) for n in names)]
    assert requirements() and unused == [], "installed but imported by nothing: %s" % unused


def test_the_sdk_extra_serves_the_sdk_exporter_registered_under_its_entry_point():
    (entry,) = metadata.entry_points(group="opentelemetry_traces_exporter", name="traceexec")
    assert entry.value == "traceexec.sdk.exporter:TraceexecSpanExporter"
    assert requirements("sdk") == ["opentelemetry-sdk"]
    assert any(provides("opentelemetry-sdk", n) for n in imported_names())
