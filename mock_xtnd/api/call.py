"""What a handler is given: the operation, the parsed path, query and body, the user, and the journal record it may
annotate (``resultKey``, paging, a quirk). Handlers return the answer's JSON value (always 200, as XTND answers)
or raise ``DomainError`` / ``ApiError``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .routes import Route


class RawJson(bytes):
    """An answer a handler already serialised (a page assembled from pre-rendered rows): sent as it is."""


@dataclass(slots=True)
class Call:
    rt: Runtime
    route: Route
    path: dict[str, str]
    query: dict[str, Any]  # the operation's declared query parameters, parsed, by canonical name
    body: Any  # the validated body (canonical names, parsed values), or None
    user: str
    record: dict[str, Any]
    now: int

    def q(self, name: str, default: Any = None) -> Any:
        value = self.query.get(name)
        return default if value is None else value

    @property
    def body_name(self) -> str:
        """The body parameter's name: the prefix of every body path in a ModelState."""
        param = self.route.facts.body
        return param.name if param is not None else "body"
