"""The global Video Agent template catalogue (FACTS.md, "Template catalogue"; USD per video).

Seeded by migration 0002 and editable in the admin afterwards; kept here so the migration,
the seed command and the tests agree on one list.
"""

from __future__ import annotations

PHOTO = "A photo of a person"
PET = "A photo of your pet"
PRODUCT = "A photo of the product"

# (template_id, name, media_inputs, text_inputs, price_cents, media_label, text_label,
#  text_placeholder, description)
GLOBAL_TEMPLATES = [
    (
        "392747428568649728",
        "Diving",
        1,
        0,
        40,
        PHOTO,
        "",
        "",
        "The person in your photo performs an elegant dive.",
    ),
    (
        "393769180141805569",
        "Run for Life",
        1,
        1,
        45,
        PHOTO,
        "A wild beast",
        "Lion",
        "The person in your photo runs from a wild beast of your choice.",
    ),
    (
        "397087679467597833",
        "Transformers",
        1,
        0,
        45,
        "A photo of a car",
        "",
        "",
        "Your car transforms into a giant robot.",
    ),
    (
        "393881433990066176",
        "Still rings routine",
        1,
        0,
        45,
        PHOTO,
        "",
        "",
        "The person in your photo performs a gymnastics still rings routine.",
    ),
    (
        "393498001241890824",
        "Weightlifting",
        1,
        0,
        45,
        PHOTO,
        "",
        "",
        "The person in your photo lifts a heavy barbell.",
    ),
    (
        "393488336655310850",
        "Climbing",
        1,
        0,
        40,
        PHOTO,
        "",
        "",
        "The person in your photo climbs a rock face.",
    ),
    (
        "394514820878671878",
        "Anime Life Sim",
        0,
        1,
        150,
        "",
        "Describe the character",
        "A cheerful baker in a seaside town",
        "An anime slice-of-life clip from your description.",
    ),
    (
        "393879757702918151",
        "McDonald's Delivery Pet",
        1,
        0,
        110,
        PET,
        "",
        "",
        "Your pet delivers a McDonald's order.",
    ),
    ("397017167949312007", "Pet Pilot", 1, 0, 200, PET, "", "", "Your pet flies a plane."),
    (
        "394176968202485769",
        "Miniature Set Ad",
        1,
        0,
        140,
        PRODUCT,
        "",
        "",
        "Your product stars in a miniature-set advertisement.",
    ),
    (
        "393876118804459526",
        "Male Model Try-On Ad",
        1,
        0,
        100,
        "A photo of the garment",
        "",
        "",
        "A male model wears your garment in an ad.",
    ),
    (
        "393866076583718914",
        "Female Model Try-On Ad",
        1,
        0,
        100,
        "A photo of the garment",
        "",
        "",
        "A female model wears your garment in an ad.",
    ),
    (
        "394875727173492739",
        "Art Fonts",
        0,
        1,
        35,
        "",
        "The text to render",
        "Hello",
        "Your words rendered as animated art lettering.",
    ),
    (
        "394220989629177861",
        "Drinkfall",
        1,
        0,
        70,
        "A photo of the drink",
        "",
        "",
        "Your drink in a splashing drinkfall shot.",
    ),
    (
        "393853165953970178",
        "E-commerce Display Ad",
        0,
        1,
        86,
        "",
        "Describe the product",
        "A stainless steel water bottle",
        "A product display ad from your description.",
    ),
    (
        "401431836934868999",
        "3D character product presentation",
        1,
        1,
        108,
        PRODUCT,
        "Describe the product",
        "Wireless earbuds",
        "A 3D character presents your product.",
    ),
]


def seed_templates(template_model) -> int:
    """Create missing catalogue rows (existing ones keep their admin edits)."""
    created = 0
    for position, row in enumerate(GLOBAL_TEMPLATES):
        tid, name, media, text, price, media_label, text_label, placeholder, description = row
        _, was_created = template_model.objects.get_or_create(
            provider="minimax",
            region="global",
            template_id=tid,
            defaults={
                "name": name,
                "media_inputs": media,
                "text_inputs": text,
                "price_cents": price,
                "media_label": media_label,
                "text_label": text_label,
                "text_placeholder": placeholder,
                "description": description,
                "position": position,
            },
        )
        created += was_created
    return created
