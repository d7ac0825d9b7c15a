"""The `ml-architect` command line: new, recommend, update."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from copier import run_copy
from rich.console import Console

from . import __version__, framework, proposal, wizard
from .paths import template_root
from .updating import UpdateError, update

app = typer.Typer(
    name="ml-architect",
    help="Start a machine-learning project from the ml-architect template.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
    if destination.exists() and any(destination.iterdir()):
        raise fail(f"{destination} is not empty; choose a new folder.")
    folder = destination.resolve().name
    try:
        if defaults:
            answers = framework.answer(given, folder_name=folder)
            proposal.show(framework.plan(answers), console)
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


def _option(question: str, kind: Any = str, *, flag: str | None = None) -> Any:
    return Annotated[
        kind | None,
        typer.Option(
            flag or f"--{question.replace('_', '-')}",
            help=" ".join(str(framework.questions()[question].get("help", "")).split())[:200],
            show_default=False,
        ),
    ]


@app.command()
def recommend(
    task: _option("task") = None,
    base_model: _option("base_model") = None,
    params_b: _option("params_b", float) = None,
    dataset: _option("dataset") = None,
    dataset_examples: _option("dataset_examples", int) = None,
    max_seq_length: _option("max_seq_length", int) = None,
    gpu: _option("gpu") = None,
    gpu_count: _option("gpu_count", int) = None,
    platform: _option("platform") = None,
    fine_tuning: _option("fine_tuning") = None,
    precision: _option("precision") = None,
    gradient_checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--gradient-checkpointing/--no-gradient-checkpointing",
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
    given = {
        name: value for name, value in locals().items() if name != "as_json" and value is not None
    }
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
    try:
        conflicted = update(
            path.resolve(),
            parse_data(data or []),
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
    console.print(f"Updated {path}: review with `git diff`, then commit.")
