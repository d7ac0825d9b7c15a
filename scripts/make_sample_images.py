#!/usr/bin/env python3
"""Draw the sample dataset of the image-classification task (needs Pillow and datasets).

    python3 scripts/make_sample_images.py     # e.g. with the .venv of scripts/dev.py

Writes train.parquet, validation.parquet and test.parquet under
template/data/{% if task == "image-classification" %}sample{% endif %}/ (copied verbatim into
rendered projects) as `datasets` writes image datasets, the format of the Hugging Face hub: an
`image` column of datasets.Image with each PNG's bytes embedded (named <label>-<n>.png) and a
`label` column with the label's name. Three files, not a folder of PNGs per split and label:
Copier walks every file of the template on every render of any task, and 240 files made each
render about a second slower.

Each label is a shape in a colour of its own family (the families overlap), at a random size
and place, on a dark random background, with pixel noise: a tiny ViT learns it in a smoke run,
but not in its first few steps, so validation accuracy still has room to improve when early
stopping watches it. The same seed draws the same images, and the same versions of datasets and
pyarrow write the same bytes; 16-colour palettes keep each PNG a few hundred bytes.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from datasets import Dataset, Features, Value, disable_progress_bars
from datasets import Image as ImageFeature
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


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    disable_progress_bars()
    rng = random.Random(SEED)
    DESTINATION.mkdir(parents=True, exist_ok=True)
    features = Features({"image": ImageFeature(), "label": Value("string")})
    total = 0
    # Splits and labels in a fixed order: the random draws, and so the images, depend on it.
    for split, count in PER_LABEL.items():
        rows: dict[str, list] = {"image": [], "label": []}
        for label in COLOURS:
            for index in range(count):
                data = png_bytes(draw(label, rng))
                rows["image"].append({"bytes": data, "path": f"{label}-{index:03d}.png"})
                rows["label"].append(label)
        path = DESTINATION / f"{split}.parquet"
        Dataset.from_dict(rows, features=features).to_parquet(path)
        total += path.stat().st_size
    images = sum(PER_LABEL.values()) * len(COLOURS)
    print(f"wrote {images} images in {len(PER_LABEL)} files, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
