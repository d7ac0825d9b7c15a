"""Static checks over many variants: every task x fine_tuning x platform combination that copier
takes, and a seeded random sample of the full matrix (`ml-architect matrix --full`).

Each variant is rendered in-process by copier's run_copy and checked without running it: every
Python file parses, the project passes ruff's lint and format check (one ruff run over all the
projects, each under its own configuration), every YAML and TOML file parses, no Jinja is left,
and every pin in pyproject.toml is the versions table's.

The sample's seed is printed; set ML_ARCHITECT_MATRIX_SEED to replay a run (and
ML_ARCHITECT_MATRIX_SAMPLE to change its size, 200 by default).
"""

from __future__ import annotations

import copy
import itertools
import os
import random
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import copier._template
import jinja2
import pytest
import yaml
from copier import run_copy

from ml_architect import framework
from ml_architect.matrix import full

from .conftest import TEMPLATE_ROOT, git
from .test_render_default import _requirements, jinja_residue, parse_by_suffix, project_files

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("ML_ARCHITECT_MATRIX_SEED") or random.SystemRandom().randrange(2**32))
SAMPLE = int(os.environ.get("ML_ARCHITECT_MATRIX_SAMPLE") or 200)
REPLAY = f"replay with ML_ARCHITECT_MATRIX_SEED={SEED}"


@dataclass
class Variant:
    label: str
    answers: dict[str, Any]
    project: Path | None = None
    error: str = ""

    def __str__(self) -> str:
        return f"{self.label} {self.answers}"


def values(name: str) -> list[Any]:
    context = {**framework.computed_values(), **framework.answer({})}
    return [value for _, value in framework.choices(framework.questions()[name], context)]


@cache
def grid() -> list[Variant]:
    """Every task x fine_tuning x platform that copier takes, on the first GPU (in the
    catalogue's order, so the CPU where it will do) that makes it valid; defaults otherwise."""
    variants = []
    for task, fine_tuning, platform in itertools.product(
        values("task"), values("fine_tuning"), values("platform")
    ):
        for gpu in values("gpu"):
            answers = {"task": task, "fine_tuning": fine_tuning, "platform": platform, "gpu": gpu}
            try:
                framework.answer(answers)
            except framework.AnswerError:
                continue
            variants.append(Variant(f"grid {task} {fine_tuning} {platform}", answers))
            break
    return variants


def sample() -> list[Variant]:
    """A seeded random sample of the full matrix, drawn by index (the matrix is not walked)."""
    matrix = full()
    picks = random.Random(SEED).sample(range(len(matrix)), min(SAMPLE, len(matrix)))
    return [Variant(f"sample #{index}", matrix[index]) for index in sorted(picks)]


# --- rendering many variants cheaply ----------------------------------------------------------

# The settings of a Jinja environment that the compiled code of a template depends on.
_CODEGEN_SETTINGS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "autoescape",
    "finalize",
    "is_async",
    "sandboxed",
)


@contextmanager
def compiled_once() -> Iterator[None]:
    """Copier parses copier.yml and compiles every template afresh for each render, most of a
    render's time. Over hundreds of renders of one template, do each once: the same source in
    an environment of the same settings compiles to the same code."""
    compile_template = jinja2.Environment.compile
    load_config = copier._template.load_template_config
    compiled: dict[tuple[Any, ...], Any] = {}

    def compile_cached(self, source, name=None, filename=None, raw=False, defer_init=False):
        if not isinstance(source, str):
            return compile_template(self, source, name, filename, raw, defer_init)
        settings = tuple(getattr(self, setting, None) for setting in _CODEGEN_SETTINGS)
        key = (type(self), settings, tuple(sorted(self.extensions)), source, name, filename)
        key += (raw, defer_init)
        if key not in compiled:
            compiled[key] = compile_template(self, source, name, filename, raw, defer_init)
        return compiled[key]

    @cache
    def parsed(conf_path: Path, quiet: bool) -> dict[str, Any]:
        return load_config(conf_path, quiet)

    def load_config_cached(conf_path: Path, quiet: bool = False) -> dict[str, Any]:
        return copy.deepcopy(parsed(conf_path, quiet))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jinja2.Environment, "compile", compile_cached)
        patch.setattr(copier._template, "load_template_config", load_config_cached)
        yield


def working_tree_copy(destination: Path) -> Path:
    """The template's files as they are in the working tree, in a plain folder: copier renders
    it in place, with no clone per render."""
    listed = git(TEMPLATE_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Variant]:
    print(f"\nmatrix sample: {SAMPLE} variants, seed {SEED} ({REPLAY})")
    scratch = tmp_path_factory.mktemp("static-matrix")
    template = working_tree_copy(scratch / "template")
    variants = [copy.copy(variant) for variant in grid()] + sample()
    with compiled_once(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, variant in enumerate(variants):
            destination = scratch / f"variant-{number:03d}"
            data = {"project_name": f"variant-{number:03d}", **variant.answers}
            try:
                run_copy(str(template), str(destination), data=data, defaults=True, quiet=True)
            except Exception as error:  # reported by test_every_variant_renders
                variant.error = f"{type(error).__name__}: {error}"
            else:
                variant.project = destination
    return variants


def projects(rendered: list[Variant]) -> list[Variant]:
    return [variant for variant in rendered if variant.project is not None]


def report(failures: list[str]) -> str:
    return f"{len(failures)} failures ({REPLAY}):\n" + "\n".join(failures[:20])


# --- the checks -------------------------------------------------------------------------------


def test_the_grid_holds_every_task_and_strategy() -> None:
    covered = {(variant.answers["task"], variant.answers["fine_tuning"]) for variant in grid()}
    assert covered == set(itertools.product(values("task"), values("fine_tuning")))


def test_every_variant_renders(rendered: list[Variant]) -> None:
    failures = [f"{variant}: {variant.error}" for variant in rendered if variant.error]
    assert not failures, report(failures)
    assert len(rendered) >= SAMPLE


def test_every_python_yaml_and_toml_file_parses(rendered: list[Variant]) -> None:
    failures = []
    for variant in projects(rendered):
        for name in sorted(project_files(variant.project)):
            try:
                parse_by_suffix(variant.project / name)
            except (SyntaxError, yaml.YAMLError, tomllib.TOMLDecodeError) as error:
                failures.append(f"{variant}: {name}: {error}")
    assert not failures, report(failures)


def test_no_jinja_residue(rendered: list[Variant]) -> None:
    failures = []
    for variant in projects(rendered):
        for name in sorted(project_files(variant.project)):
            if name.endswith(".jinja"):
                failures.append(f"{variant}: {name} kept its .jinja suffix")
                continue
            try:
                text = (variant.project / name).read_text()
            except UnicodeDecodeError:
                continue  # sample data such as images
            if residue := jinja_residue(text, name):
                failures.append(f"{variant}: {name}: {residue!r}")
    assert not failures, report(failures)


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean_on_every_variant(rendered: list[Variant], command: list[str]) -> None:
    # One ruff run for all the projects; ruff takes each file's settings from its own project.
    paths = [str(variant.project) for variant in projects(rendered)]
    outcome = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", *paths],
        capture_output=True,
        text=True,
    )
    by_folder = {str(variant.project): variant for variant in projects(rendered)}
    named = [
        f"{by_folder[folder]}: {line}"
        for line in (outcome.stdout + outcome.stderr).splitlines()
        for folder in by_folder
        if folder + os.sep in line
    ]
    assert outcome.returncode == 0, report(named or [outcome.stdout + outcome.stderr])


def test_every_pin_is_the_versions_tables(
    rendered: list[Variant], versions: dict[str, str]
) -> None:
    # The tools installed apart from the project's environment (the sagemaker extra) are pinned
    # in the same file's separate_versions table.
    separate = yaml.safe_load((TEMPLATE_ROOT / "includes" / "versions.yml").read_text())[
        "separate_versions"
    ]["default"]
    tables = {**separate, **versions}
    failures = []
    for variant in projects(rendered):
        for requirement in _requirements(variant.project):
            name, sep, version = requirement.partition("==")
            if not sep or tables.get(name) != version:
                failures.append(f"{variant}: {requirement} (table: {tables.get(name)})")
    assert not failures, report(failures)
