"""Writes places_kab_kota.yaml: regencies that are both a kabupaten and a kota, every way
owners write the qualifier, typed straight away, after "yang mana?", and under "ubah".

Run again after changing the forms: `python tests/transcripts/make_places.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
# name: (kabupaten code, kota code)
TWINS = {
    "Malang": ("3507", "3573"),
    "Kediri": ("3506", "3571"),
    "Blitar": ("3505", "3572"),
    "Pasuruan": ("3514", "3575"),
    "Probolinggo": ("3513", "3574"),
    "Mojokerto": ("3516", "3576"),
    "Madiun": ("3519", "3577"),
}
TO_REGENCY = [{"send": "/start"}, {"send": "ya"}, {"send": "Sri Wahyuni"}, {"send": "ya"}]


def _shop(name: str) -> list[dict[str, Any]]:
    return [{"send": f"Keripik Tempe {name}"}, {"send": "makanan"}]


def typed_at_once(name: str, kab: str, kota: str) -> list[dict[str, Any]]:
    lower = name.lower()
    forms = {
        f"kab {lower}": kab,
        f"kab. {lower}": kab,
        f"Kabupaten {name}": kab,
        f"{lower} kab": kab,
        f"KAB.{name.upper()}": kab,
        f"kota {lower}": kota,
        f"{name} (kota)": kota,
    }
    return [
        {
            "name": f"{form} typed at the regency question",
            "turns": [
                *TO_REGENCY,
                *_shop(name),
                {
                    "send": form,
                    "expect": ["reg.ask_district"],
                    "at": "registration/district",
                    "draft": {"regency_code": code},
                },
            ],
        }
        for form, code in forms.items()
    ]


def after_which(name: str, kab: str, kota: str) -> list[dict[str, Any]]:
    lower = name.lower()
    answers = {
        f"kab {lower}": kab,
        "kab.": kab,
        "kabupaten": kab,
        "kota": kota,
        f"kota {lower}": kota,
        "2": kota,
    }
    return [
        {
            "name": f"{name}, which one? {answer}",
            "turns": [
                *TO_REGENCY,
                *_shop(name),
                {"send": lower, "expect": ["reg.regency_which"], "choices": [kab, kota]},
                {
                    "send": answer,
                    "expect": ["reg.ask_district"],
                    "at": "registration/district",
                    "draft": {"regency_code": code},
                },
            ],
        }
        for answer, code in answers.items()
    ]


def under_ubah(name: str, kab: str, kota: str) -> dict[str, Any]:
    return {
        "name": f"{name} changed from the summary: kab {name.lower()}",
        "turns": [
            *TO_REGENCY,
            *_shop(name),
            {"send": "surabaya"},
            {"send": "lewati"},
            {"send": "Jl. Mawar 3"},
            {"send": "lewati", "expect": ["reg.summary.title"]},
            {"send": "ubah", "expect": ["engine.edit_which"]},
            {"choice": "regency", "expect": ["reg.ask_regency"]},
            {"send": name.lower(), "expect": ["reg.regency_which"]},
            {"send": f"kab {name.lower()}", "expect": ["reg.ask_district"]},
            {
                "send": "lewati",
                "expect": ["reg.ask_address"],  # the street was in the old place
                "draft": {"regency_code": kab, "district_code": None},
            },
            {"send": "Jl. Melati 5", "expect": ["reg.summary.title"]},
            {"send": "simpan", "expect": ["reg.registered"]},
        ],
        "stored": {
            "seller": {"regency_code": kab, "province_code": "35", "address": "Jl. Melati 5"}
        },
    }


def main() -> None:
    docs: list[dict[str, Any]] = []
    for name, (kab, kota) in TWINS.items():
        docs += typed_at_once(name, kab, kota)
        docs += after_which(name, kab, kota)
        docs.append(under_ubah(name, kab, kota))
    header = "# Written by make_places.py: kabupaten and kota, every way owners write them.\n"
    body = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False, width=100)
    (HERE / "places_kab_kota.yaml").write_text(header + body, encoding="utf-8")


if __name__ == "__main__":
    main()
