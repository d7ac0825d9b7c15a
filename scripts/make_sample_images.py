#!/usr/bin/env python3
"""Draw the sample dataset of the image-classification task (needs only Pillow).

    python3 scripts/make_sample_images.py

Writes small PNGs in an image-folder layout, <split>/<label>/<label>-<n>.png, under
template/data/{% if task == "image-classification" %}sample{% endif %}/ (copied verbatim into
rendered projects). Each label is a shape in a colour of its own family (the families overlap),
at a random size and place, on a dark random background, with pixel noise: a tiny ViT learns it
in a smoke run, but not in its first few steps, so validation accuracy still has room to improve
when early stopping watches it. The same seed always draws the same files; 16-colour palettes
keep them a few hundred bytes each.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_FOLDER = '{% if task == "image-classification" %}sample{% endif %}'
DESTINATION = ROOT / "template" / "data" / SAMPLE_FOLDER
SIZE = 32
# Images per label and split; the task catalogue's sample_examples counts train.
PER_LABEL = {"train": 40, "validation": 10, "test": 10}
# The colour family of each shape: each channel varies by up to COLOUR_JITTER around it.
COLOURS = {
    "circle": (220, 60, 60),
    "cross": (220, 200, 50),
    "square": (60, 90, 220),
    "triangle": (60, 200, 80),
}
COLOUR_JITTER = 90
NOISE_SIGMA = 10
SEED = 20261101


def draw(label: str, rng: random.Random) -> Image.Image:
    background = tuple(rng.randint(0, 90) for _ in range(3))
    colour = tuple(
        min(255, max(0, channel + rng.randint(-COLOUR_JITTER, COLOUR_JITTER)))
        for channel in COLOURS[label]
    )
    image = Image.new("RGB", (SIZE, SIZE), background)
    canvas = ImageDraw.Draw(image)
    radius = rng.randint(7, 11)
    x = rng.randint(radius + 2, SIZE - radius - 3)
    y = rng.randint(radius + 2, SIZE - radius - 3)
    box = (x - radius, y - radius, x + radius, y + radius)
    if label == "circle":
        canvas.ellipse(box, fill=colour)
    elif label == "square":
        canvas.rectangle(box, fill=colour)
    elif label == "triangle":
        corners = [(x, y - radius), (x - radius, y + radius), (x + radius, y + radius)]
        canvas.polygon(corners, fill=colour)
    else:
        width = max(2, radius // 3)
        canvas.rectangle((x - radius, y - width, x + radius, y + width), fill=colour)
        canvas.rectangle((x - width, y - radius, x + width, y + radius), fill=colour)
    noisy = [
        tuple(min(255, max(0, round(value + rng.gauss(0, NOISE_SIGMA)))) for value in pixel)
        for pixel in image.get_flattened_data()
    ]
    image.putdata(noisy)
    # A 16-colour palette keeps the noise visible and each file small.
    return image.quantize(colors=16)


def main() -> None:
    rng = random.Random(SEED)
    shutil.rmtree(DESTINATION, ignore_errors=True)
    total = 0
    for split, count in PER_LABEL.items():
        for label in COLOURS:
            folder = DESTINATION / split / label
            folder.mkdir(parents=True)
            for index in range(count):
                path = folder / f"{label}-{index:03d}.png"
                draw(label, rng).save(path, optimize=True)
                total += path.stat().st_size
    print(f"wrote {sum(PER_LABEL.values()) * len(COLOURS)} images, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
