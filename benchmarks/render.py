#!/usr/bin/env python3
"""Render benchmark: how much slower is `copier copy --defaults` of this template than of a
one-file template, rendered by the same copier in the same run?

    python benchmarks/render.py [--runs 7]

Prints the median wall time of each and their ratio; the target is a ratio of at most 2. Runs
alternate between the two templates so that drift in machine load affects both alike.
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


def render_seconds(template: Path, destination: Path) -> float:
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
    started = time.perf_counter()
    subprocess.run([*command, str(template), str(destination)], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="renders of each template")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        baseline = make_one_file_template(scratch_dir / "one-file-template")
        ours, theirs = [], []
        for run in range(args.runs):
            ours.append(render_seconds(ROOT, scratch_dir / f"ml-project{run}"))
            theirs.append(render_seconds(baseline, scratch_dir / f"baseline{run}"))

    ours_median, baseline_median = statistics.median(ours), statistics.median(theirs)
    ratio = ours_median / baseline_median
    print(f"ml-architect template: median {ours_median:.3f} s over {args.runs} renders")
    print(f"one-file template:     median {baseline_median:.3f} s over {args.runs} renders")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio: {ratio:.2f} ({verdict} the target of {TARGET_RATIO:.0f})")


if __name__ == "__main__":
    main()
