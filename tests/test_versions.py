"""One versions table: every pin of a rendered project and of this repository agrees with it."""

from __future__ import annotations

import tomllib

import yaml

from .conftest import TEMPLATE_ROOT


def _catalogue(name: str) -> object:
    catalogue = yaml.safe_load((TEMPLATE_ROOT / "includes" / "catalogue.yml").read_text())
    return catalogue[name]["default"]


def test_versions_are_exact_release_numbers(versions: dict[str, str]) -> None:
    for name, version in versions.items():
        assert all(part.isdigit() for part in version.split(".")), f"{name}: {version}"


def test_every_package_a_project_uses_is_in_the_table(versions: dict[str, str]) -> None:
    package_sets = _catalogue("package_sets")
    used = set().union(*package_sets.values())
    for catalogue in ("task_catalogue", "strategy_catalogue", "tracking_catalogue"):
        for entry in _catalogue(catalogue).values():
            used |= set(entry["packages"])
    assert used <= versions.keys(), used - versions.keys()


def test_this_repository_pins_shared_packages_at_the_table_versions(
    versions: dict[str, str],
) -> None:
    project = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())
    requirements = [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["test"],
    ]
    shared = 0
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{requirement} is not pinned exactly"
        if name in versions:
            shared += 1
            assert version == versions[name], f"{requirement}: the table says {versions[name]}"
    assert shared >= 4  # hatchling, pyyaml, typer, pytest, ruff
