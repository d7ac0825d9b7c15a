"""The ml-architect command line: new (wizard and --defaults), recommend, update."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest
import yaml
from typer.testing import CliRunner

from ml_architect import __version__
from ml_architect.cli import app

from .conftest import git, render_release
from .test_framework_rules import copier_answers

runner = CliRunner()
# Render the working tree's HEAD, with defaults for what --data does not answer.
NEW = ["new", "--defaults", "--vcs-ref", "HEAD"]


def test_version() -> None:
    outcome = runner.invoke(app, ["--version"])
    assert outcome.exit_code == 0
    assert outcome.stdout.strip() == f"ml-architect {__version__}"


# --- new ---------------------------------------------------------------------------------


def test_new_renders_with_defaults_and_data_and_shows_the_proposal(tmp_path: Path) -> None:
    destination = tmp_path / "router"
    outcome = runner.invoke(
        app,
        [*NEW, str(destination), "-d", "project_name=ticket-router", "-d", "gpu=L4"],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "Proposal" in outcome.stdout and "Training memory per device" in outcome.stdout
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "ticket-router"
    assert answers["precision"] == "bf16"
    assert (destination / "docs/architecture.md").is_file()


def test_new_reads_a_data_file(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text("project_name: intent-classifier\npython_version: '3.12'\n")
    destination = tmp_path / "out"
    outcome = runner.invoke(app, [*NEW, str(destination), "--data-file", str(data_file)])
    assert outcome.exit_code == 0, outcome.output
    assert 'requires-python = ">=3.12"' in (destination / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("answer", "question"),
    [("project_name=a b", "project_name"), ("precision=bf16", "precision")],
)
def test_new_with_an_impossible_answer_names_it_and_writes_nothing(
    tmp_path: Path, answer: str, question: str
) -> None:
    destination = tmp_path / "out"
    outcome = runner.invoke(app, [*NEW, str(destination), "-d", "gpu=T4", "-d", answer])
    assert outcome.exit_code == 2
    assert f"question '{question}'" in outcome.stderr
    assert not destination.exists()


def test_new_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    outcome = runner.invoke(app, ["new", str(tmp_path), "--defaults"])
    assert outcome.exit_code == 2
    assert "not empty" in outcome.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_malformed_data_is_a_usage_error(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["new", str(tmp_path / "x"), "--data", "project_name"])
    assert outcome.exit_code == 2
    assert "QUESTION=VALUE" in outcome.output


def test_the_wizard_in_a_real_terminal(tmp_path: Path) -> None:
    """Drive the interactive wizard through a pseudo-terminal, as a person would."""
    destination = tmp_path / "wizard-project"
    wizard = pexpect.spawn(
        sys.executable,
        ["-m", "ml_architect", "new", str(destination), "--vcs-ref", "HEAD"],
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
        # No cursor-position requests: pexpect is not a terminal that answers them.
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    wizard.delaybeforesend = 0.3  # let each prompt take the keyboard before typing
    typed = {"project_name": "wizard-project", "base_model": "acme/encoder-xl", "params_b": "7"}
    transcript: list[str] = []
    previous = None
    while True:
        # "? question:" with colour codes between the mark and the name.
        index = wizard.expect([r"\?(?:\x1b\[[0-9;]*m)* (\w+):", r"Render the project", pexpect.EOF])
        transcript.append(wizard.before)
        if index == 2:
            break
        if index == 1:
            assert "Proposal" in "".join(transcript)
            wizard.send("\r")
            continue
        question = wizard.match.group(1)
        if question == previous:
            continue  # the same prompt, redrawn after a keystroke
        previous = question
        transcript.append(f"<{question}>")
        if question == "gpu":
            # A select list, from cpu: move down to the A100-80GB entry.
            order = ["cpu", "T4", "L4", "A10G", "L40S", "RTX-4090", "A100-40GB", "A100-80GB"]
            wizard.send("\x1b[B" * order.index("A100-80GB") + "\r")
        elif question in typed:
            wizard.send("\x15" + typed[question] + "\r")  # Ctrl-U clears the default first
        else:
            wizard.send("\r")  # accept the (recommended) default
    wizard.close()
    text = "".join(transcript)
    assert wizard.exitstatus == 0, text[-2000:]
    # The proposal was shown before the questions whose defaults it recommends.
    assert text.index("Proposal") < text.index("<platform>") < text.index("<fine_tuning>")
    recorded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert recorded["gpu"] == "A100-80GB"
    assert recorded["params_b"] == 7.0
    assert recorded["fine_tuning"] == "lora"  # 7B on one 80 GB GPU: full does not fit


# --- recommend ---------------------------------------------------------------------------


def test_recommend_json_gives_answers_by_question_id_and_estimates() -> None:
    outcome = runner.invoke(
        app,
        [
            "recommend",
            "--json",
            "--base-model",
            "acme/encoder-xl",
            "--params-b",
            "7",
            "--gpu",
            "T4",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.stdout)
    assert result["answers"]["fine_tuning"] == "qlora"
    assert result["answers"]["precision"] == "fp16"
    assert result["answers"]["gpu"] == "T4"
    assert {"memory", "memory_table", "costs", "training_hours"} <= result["estimates"].keys()


@pytest.mark.parametrize(
    "flags",
    [
        ["--gpu", "L4"],
        ["--gpu", "A100-80GB", "--gpu-count", "4", "--base-model", "acme/x", "--params-b", "13"],
        [
            "--gpu",
            "H100",
            "--gpu-count",
            "8",
            "--num-nodes",
            "2",
            "--base-model",
            "acme/x",
            "--params-b",
            "70",
        ],
        ["--gpu", "T4", "--max-seq-length", "2048", "--base-model", "acme/x", "--params-b", "1"],
    ],
)
def test_recommend_agrees_with_plain_copier(flags: list[str]) -> None:
    outcome = runner.invoke(app, ["recommend", "--json", *flags])
    assert outcome.exit_code == 0, outcome.output
    answers = json.loads(outcome.stdout)["answers"]
    inputs = dict(zip(flags[::2], flags[1::2], strict=True))
    given = {flag[2:].replace("-", "_"): value for flag, value in inputs.items()}
    from_copier = copier_answers(given)
    for question, value in answers.items():
        assert from_copier[question] == value, question


def test_recommend_refuses_an_impossible_combination() -> None:
    outcome = runner.invoke(app, ["recommend", "--gpu", "T4", "--precision", "bf16"])
    assert outcome.exit_code == 2
    assert "question 'precision'" in outcome.stderr
    assert "choose fp16" in outcome.stderr


def test_recommend_rejects_a_bad_flag_value() -> None:
    outcome = runner.invoke(app, ["recommend", "--gpu-count", "many"])
    assert outcome.exit_code == 2
    assert "gpu-count" in outcome.output


# --- update ------------------------------------------------------------------------------


@pytest.fixture
def rendered_project(tmp_path: Path, template_repo: Path) -> Path:
    """A project rendered from a tagged template release and committed, as users have it."""
    return render_release(template_repo, tmp_path / "project", project_name="up-project")


def test_update_refuses_a_dirty_tree(rendered_project: Path) -> None:
    (rendered_project / "README.md").write_text("my edits, not committed\n")
    outcome = runner.invoke(app, ["update", str(rendered_project)])
    assert outcome.exit_code == 2
    assert "uncommitted changes" in outcome.stderr
    assert "README.md" in outcome.stderr


def test_update_refuses_a_folder_the_template_did_not_make(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["update", str(tmp_path)])
    assert outcome.exit_code == 2
    assert ".copier-answers.yml" in outcome.stderr


def test_update_with_a_new_answer_keeps_user_edits_and_recorded_answers(
    rendered_project: Path,
) -> None:
    notes = rendered_project / "NOTES.md"
    notes.write_text("my own notes\n")
    git(rendered_project, "add", "-A")
    git(rendered_project, "commit", "--quiet", "-m", "notes")
    outcome = runner.invoke(app, ["update", str(rendered_project), "-d", "gpu=L4"])
    assert outcome.exit_code == 0, outcome.output
    assert notes.read_text() == "my own notes\n"
    answers = yaml.safe_load((rendered_project / ".copier-answers.yml").read_text())
    assert answers["gpu"] == "L4"
    # Copier keeps the recorded answers: the CPU-era precision stays.
    assert answers["precision"] == "fp32"


def test_update_re_recommend_recomputes_the_framework_answers(rendered_project: Path) -> None:
    outcome = runner.invoke(
        app, ["update", str(rendered_project), "-d", "gpu=L4", "--re-recommend"]
    )
    assert outcome.exit_code == 0, outcome.output
    train = yaml.safe_load((rendered_project / "configs/train.yaml").read_text())
    assert train["training"]["precision"] == "bf16"
    architecture = (rendered_project / "docs/architecture.md").read_text()
    assert "1 x L4" in architecture


def test_update_reports_conflicts_by_file(tmp_path: Path, template_repo: Path) -> None:
    """The template and the user change the same line: the update says which file to resolve."""
    project = render_release(template_repo, tmp_path / "project", project_name="up-project")

    # The user rewrites the README's first line ...
    readme = project / "README.md"
    lines = readme.read_text().splitlines()
    readme.write_text("\n".join(["# up-project: our ticket router", *lines[1:]]) + "\n")
    git(project, "commit", "--quiet", "-am", "our title")
    # ... and the next template release changes that same line.
    source = template_repo / "includes" / "common" / "README.md.jinja"
    template_text = source.read_text()
    assert "\n# {{ project_name }}\n" in template_text
    source.write_text(
        template_text.replace("\n# {{ project_name }}\n", "\n# {{ project_name }} (ml-architect)\n")
    )
    git(template_repo, "commit", "--quiet", "-am", "new title")
    git(template_repo, "tag", "v0.2.0")

    outcome = runner.invoke(app, ["update", str(project)])
    assert outcome.exit_code == 1, outcome.output
    assert "Updated with conflicts" in outcome.stderr
    assert "README.md" in outcome.stderr
    text = readme.read_text()
    assert "<<<<<<< before updating" in text
    assert "our ticket router" in text and "(ml-architect)" in text
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.2.0"


def _local_model(folder: Path) -> Path:
    """A model folder as save_pretrained leaves it: config.json, and weights whose safetensors
    header names 2 tensors of 1,000 x 64 and 64 x 64 parameters (68,096 in all)."""
    folder.mkdir()
    config = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "vocab_size": 1000}
    (folder / "config.json").write_text(json.dumps(config))
    header = json.dumps(
        {
            "embed.weight": {"dtype": "F32", "shape": [1000, 64], "data_offsets": [0, 256000]},
            "layer.weight": {"dtype": "F32", "shape": [64, 64], "data_offsets": [256000, 272384]},
        }
    ).encode()
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    return folder


def test_recommend_reads_a_local_models_shape_from_its_config(tmp_path: Path) -> None:
    folder = _local_model(tmp_path / "my-model")
    flags = ["--task", "causal-lm", "--base-model", str(folder), "--gpu", "T4"]
    outcome = runner.invoke(app, ["recommend", "--json", *flags])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.stdout)
    read = {"layers": 2, "hidden_size": 64, "vocab_size": 1000, "params_b": 0.0001}
    assert {key: result["answers"][key] for key in read} == read
    assert result["estimates"]["model"]["source"] == "given"
    # Plain copier, given what ml-architect read, settles on the same answers.
    from_copier = copier_answers(
        {"task": "causal-lm", "base_model": str(folder), "gpu": "T4", **read}
    )
    for question, value in result["answers"].items():
        assert from_copier[question] == value, question


def test_recommend_takes_the_shape_of_a_model_outside_the_catalogue() -> None:
    flags = ["--task", "causal-lm", "--base-model", "acme/llm", "--params-b", "8"]
    shape = ["--layers", "32", "--hidden-size", "4096", "--vocab-size", "128256"]
    outcome = runner.invoke(app, ["recommend", "--json", *flags, *shape, "--gpu", "T4"])
    assert outcome.exit_code == 0, outcome.output
    facts = json.loads(outcome.stdout)["estimates"]["model"]
    assert (facts["layers"], facts["hidden_size"], facts["vocab_size"]) == (32, 4096, 128256)
