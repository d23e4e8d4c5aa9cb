"""The six agent templates useapi's ``videos/agent-templates`` lists in the sandbox.

Chosen to exercise the portal's mapping (see /tmp/spec/useapi-contract.md): an id shared with
the official catalogue whose detail states no inputs (Diving), details that state inputs, a
useapi-only id whose name matches an official template (Pet Pilot), and one with neither
(Mystery Reel). ``needs_image``/``needs_text`` are what agent-create enforces, which is not
always what the detail states: as upstream, a detail may say nothing about a real requirement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    desc: str
    needs_image: bool
    needs_text: bool
    inputs: tuple[dict[str, str], ...] | None = None  # None: the detail states no inputs
    credits: int | None = None


TEMPLATES: dict[str, Template] = {
    t.template_id: t
    for t in (
        Template(
            "392747428568649728",
            "Diving",
            "A graceful dive from the high board, starring the person in your photo.",
            needs_image=True,
            needs_text=False,
        ),
        Template(
            "393769180141805569",
            "Run for Life",
            "You run for your life, chased by the creature of your choice.",
            needs_image=True,
            needs_text=True,
            inputs=(
                {"type": "image", "label": "Your photo"},
                # The official catalogue's words: "a wild beast, e.g. Lion".
                {"type": "text", "label": "A wild beast", "placeholder": "Lion"},
            ),
        ),
        Template(
            "394875727173492739",
            "Art Fonts",
            "Your words, rendered as animated artistic lettering.",
            needs_image=False,
            needs_text=True,
            inputs=({"type": "text", "label": "Text to render", "placeholder": "Hello"},),
            credits=35,
        ),
        Template(
            "500000000000000001",
            "Pet Pilot",
            "Your pet takes the controls of a small plane.",
            needs_image=True,
            needs_text=False,
        ),
        Template(
            "500000000000000002",
            "Neon Portrait",
            "A portrait restyled in glowing neon lines.",
            needs_image=True,
            needs_text=False,
            inputs=({"type": "image", "label": "Portrait photo"},),
            credits=60,
        ),
        Template(
            "500000000000000003",
            "Mystery Reel",
            "A short surprise reel.",
            needs_image=False,
            needs_text=False,
        ),
    )
}

# The listing's order (the catalogue's insertion order); paging walks it.
ORDER: tuple[str, ...] = tuple(TEMPLATES)
