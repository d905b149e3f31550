"""What a deployment installs and runs: the locks, the Dockerfile, the proxy's configuration and the version."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
FIRST_PARTY = {"domain", "application", "adapters", "entrypoints"}
_PIN = re.compile(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", re.MULTILINE)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: Path) -> dict[str, str]:
    return dict(_PIN.findall(lock.read_text()))


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]
    return {_normalized(re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0]) for requirement in requirements}


# --- the locks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_requirement_is_pinned_with_hashes(lock: Path) -> None:
    text = lock.read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirements, f"{lock.name} lists nothing"
    assert len(requirements) == len(_pins(lock)), "every requirement is `name==version` with hashes after it"
    for block in re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[-1]):
        assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    assert "make lock" in text.splitlines()[1], "the header names the command that refreshes the lock"


def test_the_locks_cover_what_pyproject_declares_and_production_runs_the_tested_versions() -> None:
    served, tested = _pins(LOCK), _pins(DEV_LOCK)
    assert _declared() <= set(served), f"missing from requirements.lock: {sorted(_declared() - set(served))}"
    assert _declared("dev") <= set(tested), (
        f"missing from requirements-dev.lock: {sorted(_declared('dev') - set(tested))}"
    )
    different = {name: (v, tested.get(name)) for name, v in served.items() if tested.get(name) != v}
    assert not different, f"requirements.lock differs from the tested versions: {different}"


def test_every_third_party_import_of_the_source_is_a_declared_dependency() -> None:
    modules: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    third_party = modules - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {
        module: distributions.get(module)
        for module in third_party
        if not {_normalized(d) for d in distributions.get(module, [module])} & declared
    }
    assert not undeclared, f"imported by src/ but not in pyproject's dependencies: {undeclared}"


def test_the_makefile_and_the_dockerfile_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r $(LOCK)" in makefile
    assert "pip install -q --require-hashes -r $(DEV_LOCK)" in makefile
    assert makefile.count("pip install -q --no-deps -e .") == 2
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = dockerfile.index("pip install --no-cache-dir --require-hashes -r requirements.lock")
    # Dependencies form a layer of their own, before the source that changes with every edit.
    assert install < dockerfile.index("COPY src")
    assert "pip install --no-cache-dir --no-deps ." in dockerfile
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim", dockerfile, re.MULTILINE), "the base image has an exact tag"
    assert "HEALTHCHECK" in dockerfile


# --- the proxy's configuration, checked by nginx itself ----------------------------------------------------------


def _nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        pytest.fail("nginx (Debian package nginx-light) checks deploy/nginx/nginx.conf; `make test` installs it")
    return found


def _nginx_test(config: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    prefix.mkdir(exist_ok=True)
    return subprocess.run(
        [_nginx(), "-t", "-p", f"{prefix}/", "-e", "stderr", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_proxy_configuration_passes_nginx_own_check(tmp_path: Path) -> None:
    result = _nginx_test(NGINX_CONF, tmp_path / "prefix")
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_nginx_check_rejects_a_broken_configuration(tmp_path: Path) -> None:
    """The check parses the file for real (the upstream is resolved per request, so no DNS is needed)."""
    broken = tmp_path / "nginx.conf"
    broken.write_text(NGINX_CONF.read_text().replace("client_max_body_size 2m;", "client_max_body_size two;"))
    result = _nginx_test(broken, tmp_path / "prefix")
    assert result.returncode != 0
    assert "client_max_body_size" in result.stderr


def test_the_proxy_limits_and_forwards_as_documented() -> None:
    directives = dict(
        re.findall(r"^\s*([a-z_]+)\s+([^;{]+);", NGINX_CONF.read_text(), re.MULTILINE),
    )
    assert directives["client_max_body_size"] == "2m"
    assert directives["large_client_header_buffers"] == "4 8k"
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout"):
        assert timeout in directives
    assert directives["gzip"] == "on" and "application/json" in directives["gzip_types"]
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in NGINX_CONF.read_text()


# --- the version ------------------------------------------------------------------------------------------------


def test_scoremate_version_prints_the_installed_package_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"scoremate {version('scoremate')}"
