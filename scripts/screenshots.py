"""Copy the README's screenshots from a browser-test run into docs/screenshots/, small.

    SCREENSHOT_DIR=/tmp/shots pytest tests/test_browser.py
    python scripts/screenshots.py /tmp/shots

Each PNG is cut to at most 1,400 px high and reduced to 256 colours (a few tens of KB).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

KEEP = [
    "gallery-laptop",
    "job-laptop",
    "jobs-laptop",
    "gallery-new-user-phone",
    "job-new-phone",
    "job-phone",
    "jobs-phone",
    "menu-phone",
    "dashboard-laptop",
    "404-phone",
]
MAX_HEIGHT = 1400
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def main(source: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        with Image.open(source / f"{name}.png") as img:
            img = img.convert("RGB")
            if img.height > MAX_HEIGHT:
                img = img.crop((0, 0, img.width, MAX_HEIGHT))
            small = img.quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
            small.save(OUT / f"{name}.png", optimize=True)
        print(f"{name}.png {(OUT / f'{name}.png').stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
