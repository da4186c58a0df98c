"""Domain errors. Each maps to one of XTND's error kinds; the API layer renders them in the error envelope."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    """A request the domain refused. ``status`` is the HTTP status, ``error_type`` one of XTND's kinds."""

    status: int
    message: str
    errors: list[FieldError] = field(default_factory=list)
    error_type: str = "Validation"

    def __str__(self) -> str:
        return self.message


def not_found(what: str, key: str, field_name: str) -> DomainError:
    return DomainError(404, f"{what} {key!r} does not exist.", [FieldError(field_name, f"No {what.lower()} {key!r}.")])


def unprocessable(message: str, *errors: tuple[str, str]) -> DomainError:
    return DomainError(422, message, [FieldError(f, m) for f, m in errors])


def conflict(message: str, field_name: str) -> DomainError:
    return DomainError(409, message, [FieldError(field_name, message)])


def bad_request(message: str, *errors: tuple[str, str]) -> DomainError:
    return DomainError(400, message, [FieldError(f, m) for f, m in errors])
