"""The package's shape: no import circle anywhere, and run files named only in ``runs/``.

The layer order itself is checked by ``lint-imports`` (the contract in pyproject.toml, run by
``make test``); these checks cover what a layers contract cannot see.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grimp
import pytest

import xrayssl
from xrayssl.runs import folder

SRC = Path(xrayssl.__file__).parent


def import_cycles(package: str = "xrayssl") -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), imports inside functions
    and under TYPE_CHECKING included."""
    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.find_modules_directly_imported_by(module):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return cycles


def test_no_import_circle() -> None:
    assert import_cycles() == []


def test_the_cycle_finder_finds_a_planted_circle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "circlepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circlepkg import b\n")
    (package / "b.py").write_text("def f():\n    from circlepkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circlepkg") == [["circlepkg.a", "circlepkg.b"]]


RUN_FILES = [folder.ENCODER_FILE, folder.PROBE_FILE, folder.PRETRAIN_FILE, folder.HISTORY_FILE,
             folder.STUDY_CONFIG_FILE, folder.EXPLAIN_FILE, folder.SHEET_FILE, "metrics.json",
             "config.yaml"]


def test_run_file_names_are_spelled_only_in_runs() -> None:
    quoted = re.compile("|".join(rf"[\"'/]{re.escape(name)}[\"']" for name in RUN_FILES))
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "runs":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if quoted.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []
