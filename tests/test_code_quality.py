"""The project's own rules, checked with the tests: layer contracts, lint and types."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each inner layer may import besides the standard library: itself and the layers inside it.
INNER_LAYERS = {"domain": {"domain"}, "application": {"application", "domain"}}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the dev extras: pip install -e '.[dev]'")
    return found


def test_layers_point_inward_and_the_domain_stays_pure() -> None:
    result = _run(_tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import of a module, wherever it stands in the module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.partition(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            found.append((node.lineno, node.module.partition(".")[0]))
    return found


@pytest.mark.parametrize("layer", sorted(INNER_LAYERS))
def test_the_domain_and_the_use_cases_import_only_the_standard_library(layer: str) -> None:
    allowed = INNER_LAYERS[layer] | sys.stdlib_module_names
    modules = sorted((ROOT / "src" / layer).rglob("*.py"))
    assert modules, f"no modules under src/{layer}"
    outside = [
        f"{path.relative_to(ROOT)}:{line}: {package}"
        for path in modules
        for line, package in _imported_packages(path)
        if package not in allowed
    ]
    assert not outside, f"src/{layer} may import only the standard library and {sorted(INNER_LAYERS[layer])}:\n" + (
        "\n".join(outside)
    )


def test_ruff_finds_nothing() -> None:
    result = _run(_tool("ruff"), "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
