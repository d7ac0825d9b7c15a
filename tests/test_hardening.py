"""Every answer is refused cleanly (naming the question) or renders a project that parses and
lints clean: control characters, quoting per file format, shadowed module names, long values,
and the command line's errors."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import yaml
from copier import run_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from typer.testing import CliRunner

from ml_architect import cli, framework
from ml_architect.cli import app
from ml_architect.versions import load_versions

from .conftest import TEMPLATE_ROOT, assert_ruff_clean

runner = CliRunner()

# The answers a user types freely (the others are choices or numbers).
FREE_TEXT = ("project_name", "package_name", "base_model", "dataset", "description",
             "author_name", "author_email")  # fmt: skip


def settle(answers: dict[str, object]) -> dict[str, object] | str:
    """The settled answers, or copier's refusal (which must name the question)."""
    try:
        return framework.answer({"project_name": "ok-name", **answers})
    except framework.AnswerError as error:
        return f"{error.question}: {error}"


# --- refused, naming the question --------------------------------------------------------

REFUSED = [
    ({"project_name": "router\n"}, "project_name", "control character"),
    ({"project_name": "router\r"}, "project_name", "control character"),
    ({"package_name": "router\n"}, "package_name", "control character"),
    ({"base_model": "org/model\n"}, "base_model", "control character"),
    ({"author_email": "me@example.com\n"}, "author_email", "control character"),
    ({"author_name": "Ann\x00"}, "author_name", "control character"),
    ({"author_name": "Ann\x1b[31m"}, "author_name", "control character"),
    ({"author_name": "   "}, "author_name", "is blank"),
    ({"dataset": "data/train.csv\n"}, "dataset", "control character"),
    ({"package_name": "platform"}, "package_name", "taken by Python itself or by a dependency"),
    ({"package_name": "email"}, "package_name", "package_name=email_app"),
    ({"package_name": "__future__"}, "package_name", "taken by Python"),
    ({"package_name": "tqdm"}, "package_name", "taken by Python itself or by a dependency"),
    ({"package_name": "huggingface_hub"}, "package_name", "by a dependency"),
    ({"package_name": "pytest"}, "package_name", "by a dependency"),
    ({"base_model": "org/model-"}, "base_model", "not a Hugging Face hub id"),
    ({"base_model": "org/" + "m" * 300}, "base_model", "at most 96"),
    ({"base_model": "org--x/model"}, "base_model", "not a Hugging Face hub id"),
    ({"budget_usd": "inf"}, "budget_usd", "from 0 (no budget)"),
    ({"budget_usd": "nan"}, "budget_usd", "from 0 (no budget)"),
    ({"base_model": "acme/x", "params_b": "nan"}, "params_b", "between 0 and 1000"),
    ({"base_model": "acme/x", "params_b": "abc"}, "params_b", "is not a number"),
    ({"gpu_count": "abc"}, "gpu_count", "is not a whole number"),
    ({"max_seq_length": "12.5"}, "max_seq_length", "is not a whole number"),
    ({"dataset_examples": "1e3"}, "dataset_examples", "is not a whole number"),
    ({"gradient_checkpointing": "maybe"}, "gradient_checkpointing", "is not true or false"),
    ({"deploy_targets": "fastapi"}, "deploy_targets", "Invalid choice 'fastapi'"),
    (
        {"project_name": "Support Ticket Router"},
        "project_name",
        "project_name=support-ticket-router",
    ),
    ({"max_seq_length": 1024}, "max_seq_length", "(512 positions): give at most 512"),
    (
        {"task": "seq2seq", "base_model": "facebook/bart-base", "max_seq_length": 2048},
        "max_seq_length",
        "1024 positions",
    ),
]


def test_a_model_outside_the_catalogue_warns_that_its_position_limit_is_unchecked() -> None:
    settled = settle({"base_model": "acme/x", "params_b": 0.1, "max_seq_length": 4096})
    assert isinstance(settled, dict), settled
    assert any("max_position_embeddings" in note for note in framework.plan(settled)["warnings"])


@pytest.mark.parametrize(("answers", "question", "reason"), REFUSED)
def test_unusable_answer_is_refused_naming_the_question(answers, question, reason) -> None:
    outcome = settle(answers)
    assert isinstance(outcome, str), f"accepted: {answers}"
    assert outcome.startswith(f"{question}:"), outcome
    assert reason in outcome


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"project_name": "x"}, {"project_name": "x", "package_name": "x"}),
        ({"deploy_targets": "fastapi-docker"}, {"deploy_targets": ["fastapi-docker"]}),
        ({"deploy_targets": "fastapi-docker,onnx"},
         {"deploy_targets": ["fastapi-docker", "onnx"]}),
        ({"deploy_targets": "[onnx, fastapi-docker]"},
         {"deploy_targets": ["onnx", "fastapi-docker"]}),
        ({"gradient_checkpointing": "yes"}, {"gradient_checkpointing": True}),
        ({"max_seq_length": 256.0}, {"max_seq_length": 256}),
    ],
)  # fmt: skip
def test_usable_answers_are_taken(answers, expected) -> None:
    settled = settle(answers)
    assert isinstance(settled, dict), settled
    assert {key: settled[key] for key in expected} == expected


def _installed_closure(names: list[str]) -> set[str]:
    """The distributions these packages install (their requirements, transitively)."""
    normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    installed = {normal(d.metadata["Name"]): d for d in metadata.distributions()}
    seen: set[str] = set()
    pending = [normal(name) for name in names]
    while pending:
        name = pending.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for line in installed[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(normal(requirement.name))
    return seen


def test_reserved_names_cover_the_standard_library_and_the_dependencies() -> None:
    rules = framework.catalogue("package_name_rules")
    standard = {name for name in sys.stdlib_module_names if name == name.lower()}
    assert standard <= set(rules["standard_library"]), standard - set(rules["standard_library"])
    closure = _installed_closure(list(load_versions()))
    normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    modules = {
        module
        for module, distributions in metadata.packages_distributions().items()
        if module.isidentifier()
        and module == module.lower()
        and any(normal(name) in closure for name in distributions)
    }
    missing = modules - set(rules["dependencies"])
    assert not missing, f"add to includes/names.yml dependencies: {sorted(missing)}"


# --- the property: refused naming the question, or a project that parses -----------------

CONTROL = st.sampled_from(["\n", "\r", "\x00", "\x1b", "\t", "\x7f", "\x85", "\u2028"])
TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), CONTROL, st.text(max_size=10)),
    st.sampled_from(['x: y # z', '@org/ds', '*x', 'data/train #1.csv', 'yes', 'null', '[a, b]',
                     "it's \"quoted\" \\ text", "a" * 120, "Fine-tunes " + "m" * 60 + " well."]),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=st.sampled_from(FREE_TEXT), text=TEXT)
def test_any_free_text_is_refused_naming_the_question_or_taken(question: str, text: str) -> None:
    outcome = settle({question: text})
    if isinstance(outcome, str):
        assert outcome.startswith(f"{question}:") or outcome.startswith("package_name:"), outcome
        assert question in outcome or "package_name" in outcome
    elif question in {"project_name", "package_name", "base_model", "dataset", "author_email"}:
        # What names something never holds a control character once taken.
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(outcome[question]))


def _render(tmp_path: Path, answers: dict[str, object]) -> Path:
    project = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(
            str(TEMPLATE_ROOT), str(project), data=answers, defaults=True, vcs_ref="HEAD",
            quiet=True, unsafe=False,
        )  # fmt: skip
    return project


def assert_project_parses(project: Path, answers: dict[str, object]) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    description = " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ",
                                  str(answers["description"])).split())  # fmt: skip
    assert pyproject["project"]["description"] == description
    # Written on one line, runs of spaces as one (as the description).
    author = " ".join(str(answers["author_name"]).split())
    assert pyproject["project"]["authors"][0]["name"] == author
    for config in (project / "configs").glob("*.yaml"):
        yaml.safe_load(config.read_text())
    train = yaml.safe_load((project / "configs/train.yaml").read_text())
    data = train["data"]
    kind = "hub" if data.get("hub_dataset") else "local"
    named = data["hub_dataset"] if kind == "hub" else data["files"]["train"]
    assert named == answers["dataset"] or answers["dataset"] == "sample"
    for module in project.rglob("*.py"):
        ast.parse(module.read_text(), filename=str(module))
    assert_ruff_clean(project)


PRINTABLE = st.characters(
    exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\ufffe\uffff"
)
ANSWERED = st.fixed_dictionaries(
    {
        "description": TEXT,
        # Names without control characters (refused, above): these examples render.
        "author_name": st.text(PRINTABLE, min_size=1, max_size=30),
        "dataset": st.sampled_from(['x: y # z', '@org/ds', '*x', 'data/train #1.csv', 'yes',
                                    'null', '[a, b]', "it's.csv"])
        | st.text(PRINTABLE, min_size=1, max_size=30).filter(str.strip),
    }
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(answers=ANSWERED)
def test_taken_free_text_renders_a_project_that_parses_and_lints(
    tmp_path_factory: pytest.TempPathFactory, answers: dict[str, object]
) -> None:
    answers = {"project_name": "ticket-router", **answers}
    settled = settle(answers)
    if isinstance(settled, str):
        return  # refused, naming the question (the test above checks the message)
    project = _render(tmp_path_factory.mktemp("free-text"), answers)
    assert_project_parses(project, answers)


def test_long_model_id_and_quotes_keep_every_line_within_the_line_length(tmp_path: Path) -> None:
    """A real 48+ character model id in the default description broke E501; quotes, backslashes
    and non-ASCII text must neither break the strings nor trip ruff's Unicode checks."""
    answers = {
        "project_name": "ticket-router",
        "base_model": "acme/a-very-long-model-name-for-support-tickets-v2-instruct",
        "params_b": 0.1,
        "description": 'Routes "tickets" \\ it\'s Ünïcode — façade \u2139 with a very long tail of '
        "words " * 8 + "x" * 130,
        "dataset": "data/train #1.csv",
        "author_name": 'Ann "the" O\'Brien',
    }
    project = _render(tmp_path, answers)
    assert_project_parses(project, answers)
    cli = next(project.glob("src/*/cli.py")).read_text()
    assert "Routes" in cli and all(len(line) <= 100 for line in cli.splitlines())
    # Rendered from a local folder: no link to an address nobody checked, nor to a local path.
    readme = (project / "README.md").read_text()
    assert "Generated by the ml-architect Copier template;" in readme
    assert "github.com/ml-architect" not in readme


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "question"),
    [
        ("params_b=nan", "params_b"),
        ("params_b=abc", "params_b"),
        ("gpu_count=abc", "gpu_count"),
        ("max_seq_length=12.5", "max_seq_length"),
        ("dataset_examples=1e3", "dataset_examples"),
        ("gradient_checkpointing=maybe", "gradient_checkpointing"),
    ],
)
def test_new_bad_number_is_a_one_line_error_naming_the_question(
    tmp_path: Path, flag: str, question: str
) -> None:
    destination = tmp_path / "out"
    outcome = runner.invoke(
        app, ["new", "--defaults", str(destination), "-d", "base_model=acme/x", "-d", flag]
    )
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert f"'{question}'" in outcome.output
    assert not destination.exists()


def test_new_refuses_an_unknown_question_with_the_closest_id(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text("gpu_cout: 2\n")
    outcome = runner.invoke(
        app, ["new", "--defaults", str(tmp_path / "out"), "--data-file", str(data_file)]
    )
    assert outcome.exit_code == 2
    assert "gpu_cout (did you mean gpu_count?)" in outcome.output
    outcome = runner.invoke(app, ["new", "--defaults", str(tmp_path / "o"), "-d", "taks=seq2seq"])
    assert "did you mean task?" in outcome.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_new_without_a_terminal_says_how_to_answer_instead_of_aborting(tmp_path: Path) -> None:
    # CliRunner's stdin is not a terminal, as in CI or a pipe: the wizard cannot ask.
    outcome = runner.invoke(app, ["new", str(tmp_path / "out"), "-d", "task=seq2seq"])
    assert outcome.exit_code == 2
    assert "the wizard needs a terminal: pass --defaults" in outcome.output
    assert "Aborted" not in outcome.output
    assert not (tmp_path / "out").exists()


def test_recommend_help_is_rendered_text_listing_the_choices() -> None:
    outcome = runner.invoke(app, ["recommend", "--help"], env={"COLUMNS": "200"})
    assert outcome.exit_code == 0
    assert "{%" not in outcome.output and "{{" not in outcome.output
    assert "seq2seq" in outcome.output and "A100-80GB" in outcome.output


@pytest.mark.parametrize("columns", ["50", "80", "120"])
def test_option_help_is_never_cut_at_any_width(columns: str) -> None:
    outcome = runner.invoke(app, ["recommend", "--help"], env={"COLUMNS": columns})
    assert outcome.exit_code == 0
    assert "…" not in outcome.output
    # Wrapped between words (or after a hyphen), so every word of every help text is all there.
    words = " ".join(outcome.output.split()).replace("- ", "-")
    for choice in (
        "text-classification,",
        "token-classification,",
        "A100-80GB,",
        "--gradient-checkpointing",
    ):
        assert choice in words


def test_recommend_memory_row_adds_up_and_warns_when_serving_does_not_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Wide enough for one table row per line, whatever width the worker's console found first.
    monkeypatch.setattr(cli.console, "_width", 200)
    outcome = runner.invoke(
        app,
        ["recommend", "--task", "causal-lm", "--base-model", "meta-llama/Llama-3.1-8B",
         "--gpu", "T4"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "%%" not in outcome.output
    row = next(line for line in outcome.output.splitlines() if "Full fine-tuning" in line)
    numbers = [float(cell.strip(" *")) for cell in row.split("│")[2:-2]]
    weights, grads, optimizer, activations, step, overhead, total = numbers
    assert weights + grads + optimizer + max(activations, step) + overhead == pytest.approx(
        total, abs=0.05
    )
    assert "more than the 14.4 GB usable on one T4" in outcome.output


def test_matrix_help_states_one_default() -> None:
    outcome = runner.invoke(app, ["matrix", "--help"], env={"COLUMNS": "200"})
    assert "(default: the working tree)" not in outcome.output


def test_copier_itself_refuses_a_trailing_newline_in_a_data_file(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text("project_name: >\n  ticket-router\n")
    destination = tmp_path / "out"
    outcome = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD",
         "--data-file", str(data_file), str(TEMPLATE_ROOT), str(destination)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert outcome.returncode != 0
    assert "project_name" in outcome.stderr and "control character" in outcome.stderr
    assert not destination.exists()


# --- update ------------------------------------------------------------------------------


def test_update_asks_git_which_files_conflict_and_skips_ignored_folders(tmp_path: Path) -> None:
    from ml_architect.updating import conflicted_files, has_changes

    from .conftest import git

    project = tmp_path / "project"
    project.mkdir()
    (project / ".gitignore").write_text(".venv/\noutputs/\n")
    (project / "README.md").write_text("# project\n")
    git(project, "init", "--quiet")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "start")
    assert not has_changes(project)
    # A checkpoint or a virtual environment may hold anything: it is never read.
    (project / ".venv").mkdir()
    (project / ".venv" / "copy.py").write_text("<<<<<<< before updating\n")
    (project / "outputs").mkdir()
    (project / "outputs" / "weights.bin").write_bytes(b"\xff\xfe" * 1000)
    (project / "README.md").write_text("<<<<<<< before updating\n# project\n=======\n>>>>>>>\n")
    (project / "notes.md").write_text("no conflict here\n")
    (project / "pyproject.toml.rej").write_text("a hunk\n")
    assert conflicted_files(project) == [Path("README.md"), Path("pyproject.toml.rej")]
    assert has_changes(project)
