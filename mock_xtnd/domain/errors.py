"""Domain errors. The domain says what is wrong; the API layer decides the status and renders XTND's bodies:

- ``invalid``: a value fails validation -> 400 ``{"Message": "The request is invalid.", "ModelState": {...}}``;
- ``refused``: a well-formed request the domain will not do (locked order, unknown customer) -> 400 ``{"Message"}``;
- ``not_found``: the record a request names does not exist -> 404 on single-record GETs, 400 elsewhere (XTND
  documents 404 for single-record GETs only: a PUT or DELETE of an unknown number is a 400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["invalid", "refused", "not_found"]


@dataclass(slots=True)
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    status: int
    message: str
    errors: list[FieldError] = field(default_factory=list)
    kind: Kind = "refused"

    def __str__(self) -> str:
        return self.message


def not_found(what: str, key: str, field_name: str) -> DomainError:
    return DomainError(404, f"{what} '{key}' does not exist.", [FieldError(field_name, f"No {what.lower()} '{key}'.")],
                       "not_found")


def refused(message: str, field_name: str | None = None) -> DomainError:
    """400 with a plain ``Message``: a request that is well-formed but cannot be carried out."""
    return DomainError(400, message, [FieldError(field_name, message)] if field_name else [], "refused")


def unprocessable(message: str, *errors: tuple[str, str]) -> DomainError:
    """Refused, naming the fields involved (the body shows ``Message`` only, as XTND does)."""
    return DomainError(400, message, [FieldError(f, m) for f, m in errors], "refused")


def conflict(message: str, field_name: str) -> DomainError:
    return refused(message, field_name)


def bad_request(message: str, *errors: tuple[str, str]) -> DomainError:
    """Invalid values: 400 with ``ModelState`` naming each field."""
    return DomainError(400, message, [FieldError(f, m) for f, m in errors], "invalid")


class StoreUnavailable(Exception):
    """The durable store refused a commit (under ``--db``: SQLite). The unit of work was rolled back in memory, so
    nothing changed. ``transient``: another process holds a lock on the database; the same request may succeed
    later (the API answers it as SQL Server's timeout, a transient 400). Otherwise (a full disk, a read-only or
    damaged file) it is an internal error (500)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
