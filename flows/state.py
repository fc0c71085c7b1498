"""Where one person is in a conversation, and the question still open, as stored JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.messages import Choice, label_from_json, label_to_json


@dataclass(frozen=True)
class Resume:
    """After a long pause: "Lanjutkan?" waits for yes (go on) or no (start again). `later`:
    the owner said "nanti aja" themselves; "lanjut" asks the question again, any other
    message is read as if nothing were open."""

    later: bool = False


@dataclass(frozen=True)
class Confirm:
    """A guessed answer waits for "betul?" before it is stored."""

    value: Any
    question: str | None = None  # asked again (as rendered) if the answer is neither yes nor no
    offered: bool = False  # the bot's own proposal ("Sumber Rejeki Dewi"): "terserah" takes it


@dataclass(frozen=True)
class Options:
    """Buttons are open: a clarifying question, or what a step offered (keep / retake)."""

    options: tuple[Choice, ...]


@dataclass(frozen=True)
class EditMenu:
    """ "Mau ubah yang mana?": waits for a field of the flow."""


@dataclass(frozen=True)
class ConsentShown:
    """The owner has seen a facilitator's registration of their shop: a plain "ya" counts."""

    seller_id: int | None


@dataclass(frozen=True)
class CancelAsked:
    """ "Yakin dibatalkan?": yes drops the draft; no carries on; anything else asks again."""


@dataclass(frozen=True)
class RestartAsked:
    """ "Mulai dari awal?": yes starts the form again empty; no, or an answer, carries on."""


Pending = Resume | Confirm | Options | EditMenu | ConsentShown | CancelAsked | RestartAsked


def pending_to_json(pending: Pending | None) -> dict[str, Any] | None:
    match pending:
        case None:
            return None
        case Resume(later=later):
            return {"kind": "resume", "later": True} if later else {"kind": "resume"}
        case Confirm(value, question, offered):
            return {"kind": "confirm", "value": value, "question": question, "offered": offered}
        case Options(options):
            return {
                "kind": "clarify",
                "options": [{"id": c.id, "label": label_to_json(c.label)} for c in options],
            }
        case EditMenu():
            return {"kind": "edit"}
        case ConsentShown(seller_id):
            return {"kind": "consent", "seller_id": seller_id}
        case CancelAsked():
            return {"kind": "cancel"}
        case RestartAsked():
            return {"kind": "restart"}


def pending_from_json(data: Any) -> Pending | None:
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if kind == "resume":
        return Resume(later=data.get("later") is True)
    if kind == "confirm":
        question = data.get("question")
        question = question if isinstance(question, str) else None
        return Confirm(data.get("value"), question, offered=data.get("offered") is True)
    if kind == "clarify":
        options = data.get("options") or []
        return Options(tuple(Choice(o["id"], label_from_json(o["label"])) for o in options))
    if kind == "edit":
        return EditMenu()
    if kind == "cancel":
        return CancelAsked()
    if kind == "restart":
        return RestartAsked()
    if kind == "consent" or "consent" in data:  # {"consent": id} before typed pending
        return ConsentShown(data.get("seller_id", data.get("consent")))
    return None


@dataclass
class State:
    """Where one person is: persisted after every message."""

    flow: str | None = None
    step: str | None = None
    draft: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    pending: Pending | None = None
    edit_queue: list[str] = field(default_factory=list)
    return_to: str | None = None  # after changing an earlier answer, back to this question
    before_edit: dict[str, Any] | None = None  # the draft before "ubah", for "kembali"
    # More changes said in the same message ("stok 15, harga 30rb"): [field, value] each,
    # made one after the other once the change being made is done.
    changes: list[list[str]] = field(default_factory=list)
    updated_at: datetime | None = None

    def meta(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "pending": pending_to_json(self.pending),
            "edit_queue": self.edit_queue,
            "return_to": self.return_to,
            "before_edit": self.before_edit,
            "changes": self.changes,
        }

    @classmethod
    def load(
        cls,
        flow: str | None,
        step: str | None,
        draft: dict[str, Any] | None,
        meta: dict[str, Any] | None,
        updated_at: datetime | None,
    ) -> State:
        meta = meta or {}
        return cls(
            flow=flow,
            step=step,
            draft=dict(draft or {}),
            history=list(meta.get("history", [])),
            pending=pending_from_json(meta.get("pending")),
            edit_queue=list(meta.get("edit_queue", [])),
            return_to=meta.get("return_to"),
            before_edit=meta.get("before_edit"),
            changes=[list(c) for c in meta.get("changes", [])],
            updated_at=updated_at,
        )
