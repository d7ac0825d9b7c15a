#!/usr/bin/env python3
"""Render benchmark: how much slower is `copier copy --defaults` of this template than of a
one-file template, rendered by the same copier in the same run?

    python benchmarks/render.py [--runs 7] [--phases]

Prints the median wall time of each and their ratio; the target is a ratio of at most 2. Runs
alternate between the two templates so that drift in machine load affects both alike.

The template is rendered from a fresh clone of the checkout's HEAD, as users render a clone or a
remote: copier clones the template before rendering, and cloning a working checkout full of
loose git objects takes several times longer than cloning a packed one. Uncommitted changes are
therefore not measured: commit first.

--phases also prints where one render's time goes inside copier (in-process, after imports), for
this template and the baseline, to show which work grows with the template.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0


def make_one_file_template(folder: Path) -> Path:
    """The baseline: a git-tracked template with one question and one templated file."""
    (folder / "template").mkdir(parents=True)
    (folder / "copier.yml").write_text(
        "_subdirectory: template\nproject_name:\n  type: str\n  default: baseline\n"
    )
    (folder / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for command in (
        ["init", "--quiet"],
        ["add", "."],
        [*identity, "commit", "--quiet", "-m", "v1"],
    ):
        subprocess.run(["git", *command], cwd=folder, check=True)
    return folder


def packed_clone(folder: Path) -> Path:
    """HEAD of this checkout as a fresh clone holds it: committed files, objects in one pack."""
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(folder)], check=True)
    return folder


def render_seconds(template: Path, destination: Path) -> float:
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    started = time.perf_counter()
    subprocess.run([*command, str(template), str(destination)], check=True, capture_output=True)
    return time.perf_counter() - started


def phases(template: Path, scratch: Path) -> str:
    """Time copier's parts of one render, by wrapping them; a first render warms the imports."""
    from collections import defaultdict

    import copier
    from copier import _main, _template
    from jinja2 import Environment
    from plumbum.commands.base import BaseCommand

    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    originals: list[tuple[object, str, object]] = []

    def timed(owner: object, attribute: str, label: str) -> None:
        wrapped = getattr(owner, attribute)
        originals.append((owner, attribute, wrapped))

        def timing(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return wrapped(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - started
                calls[label] += 1

        setattr(owner, attribute, timing)

    def render(destination: Path) -> float:
        started = time.perf_counter()
        copier.run_copy(str(template), str(destination), defaults=True, quiet=True, vcs_ref="HEAD")
        return time.perf_counter() - started

    render(scratch / "warm-up")
    timed(_template, "clone", "template clone and checkout")
    timed(_template, "load_template_config", "copier.yml and its includes (YAML)")
    timed(_main.Worker, "_ask", "questions (with their compiles)")
    timed(Environment, "compile", "Jinja compiles (questions, paths, files)")
    timed(BaseCommand, "run", "git processes (clone and per file)")
    timed(_main.Worker, "_sync_git_index_executable_bit", "per-file git index check")
    try:
        total = render(scratch / "measured")
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)
    lines = [f"  {'render':42s} {total * 1000:7.1f} ms"]
    lines += [
        f"  {label:42s} {seconds[label] * 1000:7.1f} ms in {calls[label]} calls"
        for label in sorted(seconds, key=seconds.__getitem__, reverse=True)
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="renders of each template")
    parser.add_argument("--phases", action="store_true", help="also break one render down")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        template = packed_clone(scratch_dir / "ml-architect")
        baseline = make_one_file_template(scratch_dir / "one-file-template")
        ours, theirs = [], []
        for run in range(args.runs):
            ours.append(render_seconds(template, scratch_dir / f"ml-project{run}"))
            theirs.append(render_seconds(baseline, scratch_dir / f"baseline{run}"))
        if args.phases:
            for name, source in (("ml-architect", template), ("one-file", baseline)):
                print(f"{name} template, one render in-process after imports:")
                print(phases(source, scratch_dir / f"phases-{source.name}"))

    ours_median, baseline_median = statistics.median(ours), statistics.median(theirs)
    ratio = ours_median / baseline_median
    print(f"ml-architect template: median {ours_median:.3f} s over {args.runs} renders")
    print(f"one-file template:     median {baseline_median:.3f} s over {args.runs} renders")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio: {ratio:.2f} ({verdict} the target of {TARGET_RATIO:.0f})")


if __name__ == "__main__":
    main()
