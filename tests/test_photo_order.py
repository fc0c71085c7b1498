"""A photo kept despite a warning goes back to where the owner put it in the album."""

from __future__ import annotations

from bot.i18n import Renderer
from tests.transcripts import FlowHost, Transcript


def test_a_kept_blurred_first_photo_stays_the_main_photo() -> None:
    spec = {"name": "order", "given": "registered", "turns": []}
    host = FlowHost(Transcript("order", spec), Renderer("id"))
    for turn in Transcript("order", spec).turns:
        host.send(turn)
    said = host.send({"photos": ["blurry", "sharp", "sharp"]})
    assert "photo.quality.blurry" in said
    host.send({"send": "pakai"})
    photos = host.state.draft["photos"]
    assert [p["blurry"] for p in photos] == [True, False, False]  # the order it was sent in
    assert all("at" not in p for p in photos)  # no bookkeeping left in what is stored
