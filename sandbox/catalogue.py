"""The sandbox's own copy of the global Video Agent template catalogue.

Kept here (not imported from the Django apps) so the sandbox stays a standalone process; the
numbers come from FACTS.md ("Template catalogue (global site)").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    media_inputs: int
    text_inputs: int


TEMPLATES: dict[str, Template] = {
    t.template_id: t
    for t in (
        Template("392747428568649728", "Diving", 1, 0),
        Template("393769180141805569", "Run for Life", 1, 1),
        Template("397087679467597833", "Transformers", 1, 0),
        Template("393881433990066176", "Still rings routine", 1, 0),
        Template("393498001241890824", "Weightlifting", 1, 0),
        Template("393488336655310850", "Climbing", 1, 0),
        Template("394514820878671878", "Anime Life Sim", 0, 1),
        Template("393879757702918151", "McDonald's Delivery Pet", 1, 0),
        Template("397017167949312007", "Pet Pilot", 1, 0),
        Template("394176968202485769", "Miniature Set Ad", 1, 0),
        Template("393876118804459526", "Male Model Try-On Ad", 1, 0),
        Template("393866076583718914", "Female Model Try-On Ad", 1, 0),
        Template("394875727173492739", "Art Fonts", 0, 1),
        Template("394220989629177861", "Drinkfall", 1, 0),
        Template("393853165953970178", "E-commerce Display Ad", 0, 1),
        Template("401431836934868999", "3D character product presentation", 1, 1),
    )
}
