"""What the code imports is declared, and what is declared is pinned in requirements.lock."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
OURS = {"bot", "flows", "locales", "tests", "bench"}


def declared(extra: str | None = None) -> dict[str, Requirement]:
    project = PYPROJECT["project"]
    lines = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def imported_distributions(*folders: str) -> dict[str, set[str]]:
    """Distribution name -> the top-level modules of it that the code imports directly."""
    modules: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic's generated scripts import what the models import
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    third_party = modules - OURS - set(sys.stdlib_module_names)
    found: dict[str, set[str]] = {}
    providers = packages_distributions()  # reads every installed package's file list
    for module in third_party:
        for dist in providers.get(module, [module]):
            found.setdefault(canonicalize_name(dist), set()).add(module)
    return found


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match[1].split("[")[0])] = match[2]
    return pins


def test_every_third_party_import_of_the_bot_is_declared() -> None:
    missing = set(imported_distributions("bot", "flows")) - set(declared())
    assert missing == set()


def test_every_third_party_import_of_the_tests_is_declared_for_development() -> None:
    missing = set(imported_distributions("tests", "bench")) - set(declared()) - set(declared("dev"))
    assert missing == set()


def test_sniffio_is_declared_so_httpcore_finds_it() -> None:
    # httpcore tries `import sniffio` on every lock it takes; a failed import is not cached.
    assert "sniffio" in declared()


def test_projects_still_at_0_x_have_an_upper_bound() -> None:
    for name, requirement in {**declared(), **declared("dev")}.items():
        if version(name).startswith("0."):
            uppers = [s for s in requirement.specifier if s.operator in ("<", "<=", "==", "~=")]
            assert uppers, f"{name} is at {version(name)} and has no upper bound"


def test_the_lock_pins_every_declared_dependency_within_its_bounds() -> None:
    pins = locked()
    for name, requirement in {**declared(), **declared("dev")}.items():
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_what_is_installed_is_what_the_lock_pins() -> None:
    pins = locked()
    for name in {**declared(), **declared("dev")}:
        assert version(name) == pins[name], (
            f"{name}: installed {version(name)}, locked {pins[name]}"
        )
