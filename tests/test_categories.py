"""Guessing a category from what East Java owners call their products."""

from __future__ import annotations

import pytest

from flows.categories import (
    DEFINING,
    INGREDIENTS,
    LABELS,
    categories,
    confident_category,
    rank_categories,
    suggest_categories,
)

FOOD = "makanan-minuman"
FASHION = "fashion"
CRAFT = "kerajinan"
BEAUTY = "kecantikan"
HEALTH = "kesehatan"
HOME = "rumah-tangga"
FARM = "pertanian"
LIVESTOCK = "peternakan-perikanan"
ELECTRONICS = "elektronik"
AUTO = "otomotif"
KIDS = "bayi-anak"
HOBBY = "olahraga-hobi"
PRINT = "buku-alat-tulis"

# What owners type as a product or shop name, and the one category it surely is.
PRODUCTS = [
    # doubled words as the table writes them, whatever follows (cold trial: "Pertanian")
    ("onde onde isi kacang ijo", FOOD),
    ("Onde-onde wijen", FOOD),
    ("otak-otak bandeng", FOOD),
    # the guesses that used to go wrong
    ("kaos sablon", FASHION),
    ("sambel bawang", FOOD),
    ("ayam geprek", FOOD),
    ("bibit bawang", FARM),
    ("ayam goreng", FOOD),
    ("ayam kampung hidup", LIVESTOCK),
    ("bibit ayam", LIVESTOCK),
    ("jasa sablon", PRINT),
    # food: sambal, snacks, spices, sweets, drinks
    ("Sambal Bawang Bu Tini 150 gr", FOOD),
    ("Sambel Pecel Madiun", FOOD),
    ("Bumbu Pecel Khas Blitar", FOOD),
    ("Bumbu Rawon Instan", FOOD),
    ("Bumbu Rujak Cingur", FOOD),
    ("Rujak Cingur Suroboyo", FOOD),
    ("Keripik Tempe Pedas 200 gr", FOOD),
    ("Kripik Singkong Balado", FOOD),
    ("Kerupuk Udang Sidoarjo", FOOD),
    ("Krupuk Ikan Tenggiri", FOOD),
    ("Kerupuk Rambak Kulit Sapi", FOOD),
    ("Rengginang Lorjuk Madura", FOOD),
    ("Opak Gambir Blitar", FOOD),
    ("Kopi Bubuk Robusta Dampit", FOOD),
    ("Kopi Luwak Ijen", FOOD),
    ("Dodol Apel Batu", FOOD),
    ("Jenang Ketan Kudus", FOOD),
    ("Tape Bondowoso", FOOD),
    ("Prol Tape Jember", FOOD),
    ("Suwar Suwir Jember", FOOD),
    ("Brem Madiun", FOOD),
    ("Wingko Babat", FOOD),
    ("Petis Udang Sidoarjo", FOOD),
    ("Bandeng Presto Sidoarjo", FOOD),
    ("Otak-otak Bandeng", FOOD),
    ("Telur Asin Brebes", FOOD),
    ("Bawang Goreng Renyah", FOOD),
    ("Pisang Goreng Kipas", FOOD),
    ("Kacang Bawang", FOOD),
    ("Abon Lele Pedas", FOOD),
    ("Bebek Goreng Sinjay", FOOD),
    ("Tahu Takwa Kediri", FOOD),
    ("Getuk Pisang Kediri", FOOD),
    ("Madu Hutan Baluran", FOOD),
    ("Wedang Uwuh", FOOD),
    ("Nasi Kotak Catering", FOOD),
    # health and beauty
    ("Jamu Gendong Kunyit Asam", HEALTH),
    ("Beras Kencur", HEALTH),
    ("Jahe Merah Instan", HEALTH),
    ("Minyak Kayu Putih", HEALTH),
    ("Temulawak Sirup", HEALTH),
    ("Sabun Sereh Wangi", BEAUTY),
    ("Lulur Bengkoang", BEAUTY),
    ("Bedak Dingin Madura", BEAUTY),
    # clothing
    ("Batik Tulis Tanjung Bumi", FASHION),
    ("Batik Cap Pamekasan", FASHION),
    ("Kaos Batik Tulis Sidoarjo", FASHION),
    ("Kaos Sablon Custom", FASHION),
    ("Kaus Polos Cotton Combed", FASHION),
    ("Sarung Tenun Goyor", FASHION),
    ("Tenun Ikat Parengan", FASHION),
    ("Mukena Bordir Bangil", FASHION),
    ("Kebaya Bordir", FASHION),
    ("Sandal Kulit Magetan", FASHION),
    ("Udeng Banyuwangi", FASHION),
    ("Jilbab Instan", FASHION),
    ("Konveksi Seragam Sekolah", FASHION),
    # crafts
    ("Tas Anyaman Pandan", CRAFT),
    ("Tas Wanita Anyaman Mendong", CRAFT),
    ("Tas Rajut", CRAFT),
    ("Kerajinan Rotan", CRAFT),
    ("Kursi Rotan Sintetis", CRAFT),
    ("Anyaman Bambu", CRAFT),
    ("Gerabah Kasongan", CRAFT),
    ("Topeng Malangan", CRAFT),
    ("Wayang Kulit", CRAFT),
    ("Ukiran Kayu Jati", CRAFT),
    ("Kerajinan Kerang", CRAFT),
    # home
    ("Cobek Batu", HOME),
    ("Sapu Lidi", HOME),
    ("Keset Kain Perca", HOME),
    ("Sprei Bordir", HOME),
    ("Sarung Bantal", HOME),
    ("Toples Kue Lebaran", HOME),
    # farm produce
    ("Bawang Merah Probolinggo", FARM),
    ("Cabe Rawit", FARM),
    ("Bibit Durian Musang King", FARM),
    ("Bibit Kopi Arabika", FARM),
    ("Pupuk Kompos Organik", FARM),
    ("Porang Kering", FARM),
    ("Apel Malang", FARM),
    ("Jeruk Semboro", FARM),
    ("Tembakau Madura", FARM),
    ("Tanaman Hias Aglonema", FARM),
    # livestock and fish
    ("Ayam Kampung", LIVESTOCK),
    ("Telur Ayam Kampung", LIVESTOCK),
    ("Bibit Lele Sangkuriang", LIVESTOCK),
    ("Benih Ikan Nila", LIVESTOCK),
    ("Lele Segar", LIVESTOCK),
    ("Kambing Etawa", LIVESTOCK),
    ("Pakan Ayam", LIVESTOCK),
    ("Garam Madura", LIVESTOCK),
    ("Ikan Asin Lamongan", LIVESTOCK),
    # the rest
    ("Servis HP", ELECTRONICS),
    ("Casing HP Custom", ELECTRONICS),
    ("Servis Motor", AUTO),
    ("Sarung Jok Motor", AUTO),
    ("Stiker Motor", AUTO),
    ("Knalpot Racing", AUTO),
    ("Gendongan Bayi", KIDS),
    ("Mainan Anak Edukasi", KIDS),
    ("Baju Bayi", KIDS),
    ("Sangkar Burung", HOBBY),
    ("Alat Pancing", HOBBY),
    ("Undangan Pernikahan", PRINT),
    ("Sablon Kaos", PRINT),
    # sectors as government MSME data writes them
    ("Makanan & Minuman", FOOD),
    ("Kuliner kopi", FOOD),
    ("Kesehatan herbal", HEALTH),
    ("kerajinan tangan", CRAFT),
]


@pytest.mark.parametrize(("name", "expected"), PRODUCTS)
def test_a_product_name_gets_its_category(name: str, expected: str) -> None:
    assert confident_category(name) == expected, rank_categories(name)
    assert suggest_categories(name) == [expected]


def test_the_table_is_large_and_covers_most_categories() -> None:
    assert len(PRODUCTS) >= 60
    assert {code for _, code in PRODUCTS} == set(LABELS) - {"lainnya"}


UNSURE = [
    "",
    "   ",
    "12345",
    "Toko Berkah Jaya",  # a shop name that says nothing about what it sells
    "Aneka Oleh-oleh Khas Madura",
    "jasa",
    "Keripik dan Kaos",  # two products of two categories
    "Sambal, Kaos & Batik",
    "Ayam dan Bebek Goreng",  # live chickens, or fried duck?
    "stiker",  # for motorbikes, or printed?
    "Sepatuu",  # misspelt: a guess, not a certainty
    "kripikk singkong",
]


@pytest.mark.parametrize("name", UNSURE)
def test_no_single_category_when_the_guess_is_weak(name: str) -> None:
    assert confident_category(name) is None, rank_categories(name)


def test_a_weak_guess_still_ranks_the_likely_categories_first() -> None:
    assert rank_categories("Sepatuu")[0][0] == FASHION
    assert rank_categories("kripikk singkong")[0][0] == FOOD
    assert {code for code, _ in rank_categories("Keripik dan Kaos")} == {FOOD, FASHION}
    assert suggest_categories("stiker") == [AUTO, PRINT]  # both, in the table's order


def test_ranking_is_best_first_with_confidences_from_0_to_100() -> None:
    for name, _ in PRODUCTS + [(n, None) for n in UNSURE]:
        ranked = rank_categories(name)
        confidences = [c for _, c in ranked]
        assert confidences == sorted(confidences, reverse=True)
        assert all(0 < c <= 100 for c in confidences)
        assert sum(confidences) <= 100.5  # each is rounded
        assert all(code in LABELS for code, _ in ranked)
    assert rank_categories("Toko Berkah Jaya") == []


def test_the_head_word_outweighs_what_follows_it() -> None:
    [(code, confidence), (other, rest)] = rank_categories("kaos oblong sablon")
    assert (code, other) == (FASHION, PRINT) and confidence > 70 > 30 > rest
    assert rank_categories("sablon kaos oblong")[0][0] == PRINT


def test_word_roles_name_keywords_of_the_table() -> None:
    keywords = {k for cat in categories() for k in cat.keywords}
    assert keywords >= INGREDIENTS
    assert keywords >= DEFINING
    assert not INGREDIENTS & DEFINING
