"""Makes umkm_sample.csv: 1,000 synthetic Disperindag-style rows, 20 of them deliberately bad.

Run from the repository root: `.venv/bin/python tests/data/make_umkm_sample.py`. The output
is committed; the same seed always gives the same file.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from flows.regions import districts_by_regency, regencies

FIRST = [
    "Sri",
    "Siti",
    "Budi",
    "Agus",
    "Dewi",
    "Rina",
    "Joko",
    "Wati",
    "Eko",
    "Yuni",
    "Slamet",
    "Nur",
    "Ahmad",
    "Lestari",
    "Bambang",
    "Endang",
    "Heru",
    "Tutik",
    "Sugeng",
    "Ani",
]
LAST = [
    "Wahyuni",
    "Rahayu",
    "Santoso",
    "Susanti",
    "Prasetyo",
    "Hidayat",
    "Lestari",
    "Utomo",
    "Setiawan",
    "Handayani",
    "Kurniawan",
    "Wibowo",
    "Purnomo",
    "Fitriani",
]
BUSINESS = [
    ("Keripik Tempe", "Makanan & Minuman"),
    ("Batik Tulis", "Fashion"),
    ("Anyaman Pandan", "Kerajinan"),
    ("Sambal Bawang", "makanan minuman"),
    ("Jamu Gendong", "Kesehatan herbal"),
    ("Kopi Bubuk", "Kuliner kopi"),
    ("Tas Rajut", "kerajinan tangan"),
    ("Madu Hutan", "madu"),
    ("Kerupuk Udang", "Makanan"),
    ("Sandal Kulit", "sandal"),
]
HEADER = [
    "Nama Pemilik",
    "Nama Usaha",
    "No. HP",
    "Kabupaten/Kota",
    "Kecamatan",
    "Alamat",
    "Sektor Usaha",
    "NIB",
]
# Data row number (as a spreadsheet counts, header = 1) -> what is wrong with it.
BAD = {
    **{n: ("Nama Pemilik", "") for n in (14, 160, 333, 512, 870)},
    **{n: ("Nama Usaha", "") for n in (40, 444, 901)},
    **{n: ("Kabupaten/Kota", "Kota Atlantis") for n in (77, 256, 600, 777, 950)},
    **{n: ("No. HP", "6.28123E+12") for n in (90, 390, 690, 990)},
    **{n: ("NIB", "12345") for n in (123, 456, 789)},
}


def rows(seed: int = 2026) -> list[list[str]]:
    rng = random.Random(seed)
    east_java = [r for r in regencies().values() if r.province_code == "35"]
    out = []
    for number in range(2, 1002):
        regency = rng.choice(east_java)
        district = rng.choice(districts_by_regency()[regency.code])
        business, sector = rng.choice(BUSINESS)
        owner = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        kind = "Kab." if regency.kind == "kabupaten" else "Kota"
        row = {
            "Nama Pemilik": owner,
            "Nama Usaha": f"{business} {owner.split()[0]} {number}",
            "No. HP": f"0812-{number:04d}-{rng.randrange(1000, 9999)}",
            "Kabupaten/Kota": f"{kind} {regency.name}".upper()
            if number % 7 == 0
            else f"{kind} {regency.name}",
            "Kecamatan": district.name,
            "Alamat": f"Jl. {rng.choice(['Merdeka', 'Diponegoro', 'Pahlawan'])} No. {number}",
            "Sektor Usaha": sector,
            "NIB": f"{rng.randrange(10**12, 10**13)}" if number % 3 == 0 else "",
        }
        if number in BAD:
            column, value = BAD[number]
            row[column] = value
        out.append([row[h] for h in HEADER])
    return out


def main() -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")  # as Excel saves it
    writer.writerow(HEADER)
    writer.writerows(rows())
    target = Path(__file__).with_name("umkm_sample.csv")
    target.write_bytes(buffer.getvalue().encode("utf-8-sig"))


if __name__ == "__main__":
    main()
