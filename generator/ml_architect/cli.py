"""The `ml-architect` command line: new, recommend, update, matrix."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from copier import run_copy
from rich.console import Console
from rich.table import Table

from . import __version__, checking, framework, proposal, wizard
from . import matrix as variants_matrix
from .paths import template_root
from .updating import UpdateError, has_changes, recorded_version, update

app = typer.Typer(
    name="ml-architect",
    help="Start a machine-learning project from the ml-architect template.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help wraps between words at any width; rich's tables cut long words ("text-
    # classificat…") once the terminal is narrower than about 70 columns.
    rich_markup_mode=None,
)
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]Error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ml-architect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Start a machine-learning project from the ml-architect template."""


def parse_data(pairs: list[str]) -> dict[str, str]:
    """`key=value` pairs as copier answers; a pair without '=' is a usage error."""
    answers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: expected QUESTION=VALUE", param_hint="--data")
        answers[key.strip()] = value
    return answers


def read_data_file(path: Path) -> dict[str, Any]:
    try:
        answers = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error), param_hint="--data-file") from None
    if not isinstance(answers, dict):
        raise typer.BadParameter(f"{path}: expected a mapping of answers", param_hint="--data-file")
    return answers


def refuse_unknown(given: dict[str, Any]) -> None:
    """Stop at an answer to no question (a typo of a question id would be silently dropped)."""
    unknown = framework.unknown_questions(given)
    if unknown:
        raise fail(f"no such question: {', '.join(unknown)}.")


def with_local_model(given: dict[str, Any]) -> dict[str, Any]:
    """`given`, plus the size and shape of a base_model in a local folder (its config.json and
    weights), where not given: the answers copier would have to ask."""
    found = framework.local_model_answers(str(given.get("base_model", "")))
    return {**found, **given}


DataOption = Annotated[
    list[str] | None,
    typer.Option("--data", "-d", metavar="QUESTION=VALUE", help="An answer (repeatable)."),
]


@app.command()
def new(
    destination: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    data: DataOption = None,
    data_file: Annotated[
        Path | None, typer.Option(help="A YAML file of answers keyed by question id.")
    ] = None,
    defaults: Annotated[
        bool, typer.Option(help="Take the default of every question not answered by --data.")
    ] = False,
    vcs_ref: Annotated[
        str | None, typer.Option(help="Template version (git tag or commit) to render.")
    ] = None,
) -> None:
    """Render a new project into DESTINATION; without --defaults, a wizard asks and advises."""
    given = {**(read_data_file(data_file) if data_file else {}), **parse_data(data or [])}
    refuse_unknown(given)
    given = with_local_model(given)
    if destination.exists() and any(destination.iterdir()):
        raise fail(f"{destination} is not empty; choose a new folder.")
    folder = destination.resolve().name
    try:
        if defaults:
            answers = framework.answer(given, folder_name=folder)
            proposal.show(framework.plan(answers), console)
        elif not sys.stdin.isatty():
            # The wizard asks in a terminal; piped or in CI there is no one to answer.
            raise fail(
                "the wizard needs a terminal: pass --defaults, with --data QUESTION=VALUE or "
                "--data-file for the answers that differ from the defaults."
            )
        else:
            answers = wizard.run(given, console, folder)
    except framework.AnswerError as error:
        raise fail(str(error)) from None
    except wizard.Cancelled:
        raise fail("cancelled; nothing was written.", code=1) from None
    # Copier checks every answer again before it writes a file: nothing is left half-written.
    try:
        run_copy(
            str(template_root()),
            str(destination),
            data=answers,
            defaults=True,
            vcs_ref=vcs_ref,
            quiet=True,
            unsafe=False,
        )
    except ValueError as error:
        raise fail(str(error)) from None
    console.print(
        f"Rendered [bold]{destination}[/bold]; the proposal is in "
        f"{destination / 'docs' / 'architecture.md'}. Next: {destination / 'README.md'}."
    )


class Switch(StrEnum):
    on = "on"
    off = "off"


# Short help for `recommend`'s options: copier.yml's help texts are written for the wizard,
# hold Jinja and run to several lines. Choice questions list their values (the catalogues').
OPTION_HELP = {
    "task": "The problem the model solves: {choices}.",
    "base_model": "Hugging Face hub id of the model to fine-tune, or a local folder.",
    "params_b": "Size of a model outside the catalogue, in billions of parameters (e.g. 7).",
    "layers": "Transformer blocks of a model outside the catalogue (0: guessed).",
    "hidden_size": "Hidden size of a model outside the catalogue (0: guessed).",
    "vocab_size": "Vocabulary size of a model outside the catalogue (0: guessed).",
    "dataset": "sample, a local CSV/JSONL path, or a hub dataset id.",
    "dataset_examples": "Training examples, for the time and cost estimates.",
    "max_seq_length": "Longest input in tokens (longer inputs are truncated).",
    "gpu": "The GPU to train on: {choices}.",
    "gpu_count": "GPUs per machine: {choices}.",
    "num_nodes": "Machines the training job spans.",
    "platform": "Where training runs: {choices}.",
    "fine_tuning": "How the weights are trained: {choices} (default: recommended).",
    "precision": "Number format of training: {choices} (default: recommended).",
    "distributed": "How several GPUs share the work: {choices} (default: recommended).",
    "budget_usd": "Training budget in USD, 0 for none: the proposal warns above it.",
}


def _option_help(question: str) -> str:
    options = framework.choices(framework.questions()[question], framework.computed_values())
    listed = ", ".join(str(value) for _, value in options or [])
    return OPTION_HELP[question].format(choices=listed)


def _option(question: str, kind: Any = str, *, flag: str | None = None) -> Any:
    return Annotated[
        kind | None,
        typer.Option(
            flag or f"--{question.replace('_', '-')}",
            help=_option_help(question),
            show_default=False,
        ),
    ]


@app.command()
def recommend(
    task: _option("task") = None,
    base_model: _option("base_model") = None,
    params_b: _option("params_b", float) = None,
    layers: _option("layers", int) = None,
    hidden_size: _option("hidden_size", int) = None,
    vocab_size: _option("vocab_size", int) = None,
    dataset: _option("dataset") = None,
    dataset_examples: _option("dataset_examples", int) = None,
    max_seq_length: _option("max_seq_length", int) = None,
    gpu: _option("gpu") = None,
    gpu_count: _option("gpu_count", int) = None,
    num_nodes: _option("num_nodes", int) = None,
    platform: _option("platform") = None,
    fine_tuning: _option("fine_tuning") = None,
    precision: _option("precision") = None,
    # One option taking on/off rather than a --x/--no-x pair: the pair's second name would take
    # a column of the help table of its own and squeeze every help text into a narrow one.
    gradient_checkpointing: Annotated[
        Switch | None,
        typer.Option(
            help="Force gradient checkpointing on or off (default: recommended).",
            show_default=False,
        ),
    ] = None,
    distributed: _option("distributed") = None,
    budget_usd: _option("budget_usd", float) = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answers and the estimates as JSON.")
    ] = False,
) -> None:
    """Recommend answers for a problem and its compute, with the estimates behind them."""
    given = {name: value for name, value in locals().items() if name != "as_json"}
    if gradient_checkpointing is not None:
        given["gradient_checkpointing"] = gradient_checkpointing is Switch.on
    given = with_local_model({name: value for name, value in given.items() if value is not None})
    try:
        answers = framework.answer(given)
    except framework.AnswerError as error:
        raise fail(str(error)) from None
    plan = framework.plan(answers)
    if as_json:
        keys = [
            name
            for name in framework.questions()
            if name in answers
            and name not in {"project_name", "package_name", "description"}
            and not name.startswith("author")
        ]
        estimates = {
            key: plan[key]
            for key in (
                "memory",
                "memory_table",
                "costs",
                "batch",
                "training_hours",
                "inference_gb",
                "hyperparameters",
                "reasons",
                "warnings",
                "model",
            )
        }
        typer.echo(
            json.dumps({"answers": {k: answers[k] for k in keys}, "estimates": estimates}, indent=2)
        )
        return
    proposal.show(plan, console)


@app.command(name="update")
def update_command(
    path: Annotated[Path, typer.Argument(help="The project to update.")] = Path("."),
    data: DataOption = None,
    vcs_ref: Annotated[
        str | None, typer.Option(help="Template version to update to (default: the newest tag).")
    ] = None,
    re_recommend: Annotated[
        bool,
        typer.Option(
            help="Recompute the recommended answers (platform, fine_tuning, precision, "
            "gradient_checkpointing, distributed) from the inputs instead of keeping the "
            "recorded ones."
        ),
    ] = False,
    trust: Annotated[
        bool,
        typer.Option(
            help="Let the release's migrations run (commands listed in CHANGELOG.md that carry "
            "answers over renamed questions or moved files)."
        ),
    ] = False,
) -> None:
    """Take the template's newest release into a project (`copier update`), keeping your changes."""
    answers = parse_data(data or [])
    refuse_unknown(answers)
    try:
        before = recorded_version(path.resolve())
    except OSError:
        before = None
    try:
        conflicted = update(
            path.resolve(),
            answers,
            vcs_ref,
            re_recommend=re_recommend,
            trust=trust,
        )
    except (UpdateError, ValueError) as error:
        raise fail(str(error)) from None
    if conflicted:
        errors.print(
            "[yellow]Updated with conflicts[/yellow] where both you and the template changed the "
            "same lines. Resolve the markers (<<<<<<< / >>>>>>>) in:"
        )
        for name in conflicted:
            errors.print(f"  {name}")
        raise typer.Exit(1)
    if not has_changes(path.resolve()):
        console.print(
            f"{path} is already at template version {before or 'unknown'}: nothing to update."
        )
        return
    after = recorded_version(path.resolve())
    console.print(
        f"Updated {path} from template version {before} to {after}: review with `git diff`, "
        "then commit."
    )


class MatrixFormat(StrEnum):
    json = "json"
    github = "github"


# GitHub Actions runs at most this many jobs from one matrix.
GITHUB_MATRIX_LIMIT = 256


def _write_json_list(items: Any) -> int:
    """Stream a JSON list, one item a line; returns how many were written."""
    out = sys.stdout
    count = 0
    for count, item in enumerate(items, start=1):
        out.write(("[\n" if count == 1 else ",\n") + json.dumps(item))
    out.write("\n]\n" if count else "[]\n")
    out.flush()
    return count


def _report_unreachable(covering: variants_matrix.Covering) -> None:
    describe = variants_matrix.describe
    errors.print(
        f"{len(covering.variants)} variants cover all {covering.pairs} pairs of answers that "
        "valid combinations hold.",
        highlight=False,
        soft_wrap=True,
    )
    if covering.unreachable_values:
        errors.print(
            "No valid combination holds these answers (with the other answers as given or "
            "default): " + ", ".join(describe(atom) for atom in covering.unreachable_values),
            highlight=False,
            soft_wrap=True,
        )
    if covering.unreachable_pairs:
        errors.print(
            f"No valid combination holds these {len(covering.unreachable_pairs)} pairs:",
            highlight=False,
            soft_wrap=True,
        )
        for first, second in covering.unreachable_pairs:
            errors.print(
                f"  {describe(first)} & {describe(second)}", highlight=False, soft_wrap=True
            )


def _progress(outcome: checking.Outcome, total: int) -> None:
    seconds = outcome.render_s + outcome.tests_s
    errors.print(
        f"{'pass' if outcome.passed else 'FAIL'} {outcome.index}/{total} "
        f"{variants_matrix.name(outcome.answers)} ({seconds:.0f} s)",
        highlight=False,
        soft_wrap=True,
    )


def _show_outcomes(outcomes: list[checking.Outcome], elapsed: float) -> None:
    table = Table(title=f"Variants: {sum(o.passed for o in outcomes)}/{len(outcomes)} passed")
    for column in ("#", "variant", "render s", "tests s", "result"):
        table.add_column(column, justify="right" if column.endswith(" s") else "left")
    for outcome in outcomes:
        result = "[green]pass[/green]" if outcome.passed else f"[red]FAIL ({outcome.stage})[/red]"
        table.add_row(
            str(outcome.index),
            variants_matrix.name(outcome.answers),
            f"{outcome.render_s:.1f}",
            f"{outcome.tests_s:.1f}",
            result,
        )
    console.print(table)
    for outcome in outcomes:
        if not outcome.passed:
            console.rule(f"[red]{outcome.index}: {variants_matrix.name(outcome.answers)}")
            console.print(json.dumps(outcome.answers), highlight=False, soft_wrap=True)
            console.print(outcome.output[-4000:], highlight=False, markup=False)
    console.print(f"Checked {len(outcomes)} variants in {elapsed:.0f} s.")


@app.command(name="matrix")
def matrix_command(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Every valid combination of the choice questions, instead of a pairwise "
            "covering set.",
        ),
    ] = False,
    output_format: Annotated[
        MatrixFormat,
        typer.Option(
            "--format",
            help="json: a list of answer sets keyed by question id; github: a GitHub Actions "
            'matrix, {"include": [{"name": ..., "answers": {...}}, ...]}.',
        ),
    ] = MatrixFormat.json,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            "-d",
            metavar="QUESTION=VALUE",
            help="Fix an answer instead of its default, in every variant (repeatable); a fixed "
            "choice question is not varied.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Keep only the first N variants.")
    ] = None,
    count: Annotated[
        bool, typer.Option("--count", help="Print how many variants there are, not them.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Render each variant with copier and run its own test suite; print a table.",
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes that share the search of the valid combinations; with --check, "
            "variants checked at once.",
        ),
    ] = max((os.cpu_count() or 2) // 2, 1),
    pytest_args: Annotated[
        str,
        typer.Option(help="With --check: arguments for each variant's pytest, e.g. '-x -k api'."),
    ] = "",
    vcs_ref: Annotated[
        str,
        typer.Option(
            help="With --check: the template version to render (git tag or commit; HEAD: the "
            "last commit, with the working tree's uncommitted changes)."
        ),
    ] = "HEAD",
) -> None:
    """List the valid variants of the template: a pairwise covering set (default) or all."""
    fixed = parse_data(data or [])
    refuse_unknown(fixed)
    started = time.perf_counter()
    try:
        if full:
            matrix = variants_matrix.full(fixed, jobs=jobs)
            total = len(matrix) if limit is None else min(limit, len(matrix))
            variants: Any = itertools.islice(matrix, total)
        else:
            covering = variants_matrix.covering(fixed, jobs=jobs)
            _report_unreachable(covering)
            variants = covering.variants[:limit]
            total = len(variants)
    except (framework.AnswerError, variants_matrix.NoValidVariant) as error:
        raise fail(str(error)) from None
    if count:
        typer.echo(total)
        return
    if check:
        if full and limit is None:
            raise fail("--check runs every variant's suite: with --full, give --limit.")
        outcomes = checking.check_variants(
            list(variants),
            jobs=jobs,
            pytest_args=shlex.split(pytest_args),
            vcs_ref=vcs_ref or None,
            on_outcome=lambda outcome: _progress(outcome, total),
        )
        _show_outcomes(outcomes, time.perf_counter() - started)
        if not all(outcome.passed for outcome in outcomes):
            raise typer.Exit(1)
        return
    if output_format is MatrixFormat.github:
        if total > GITHUB_MATRIX_LIMIT:
            raise fail(
                f"{total} variants: a GitHub Actions matrix runs at most {GITHUB_MATRIX_LIMIT} "
                "jobs; use the covering set, or --limit."
            )
        typer.echo(json.dumps(variants_matrix.github_matrix(list(variants))))
        return
    written = _write_json_list(variants)
    if full:
        errors.print(
            f"{written} valid variants listed in {time.perf_counter() - started:.1f} s.",
            highlight=False,
        )
