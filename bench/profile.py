"""Summarise a py-spy profile (`py-spy record -f raw`) the way docs/benchmarks.md shows them.

    py-spy record --subprocesses --nonblocking -r 100 -d 20 -f raw -o web.raw --pid <gunicorn>
    python -m bench.profile web.raw [--under "TokenAuth.authenticate"] [--top 15]

Prints each frame's inclusive share of the samples (a frame counted once per stack), the
portal's own frames and the libraries' alike; `--under` keeps only the stacks through a frame
whose text contains that string, and shares are then of those stacks.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>.+?):\d+\)$")


def summarise(path: Path, *, under: str = "", top: int = 15) -> list[tuple[float, str]]:
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if under:
            at = next((i for i, f in enumerate(frames) if under in f), None)
            if at is None:
                continue
            frames = frames[at:]
        n = int(count)
        total += n
        seen = set()
        for frame in frames:
            match = _FRAME.match(frame)
            if not match:
                continue  # a process or thread line
            name = f"{match['func']} ({Path(match['file']).name})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
    return [(100 * n / total, name) for name, n in inclusive.most_common(top)] if total else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--under", default="")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for share, name in summarise(args.raw, under=args.under, top=args.top):
        print(f"{share:5.1f} %  {name}")


if __name__ == "__main__":
    main()
