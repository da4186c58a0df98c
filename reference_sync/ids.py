"""The only place the sync makes up identifiers."""

from __future__ import annotations

import secrets


def new_instance_tag() -> str:
    """Six hex digits, made once per database and kept in it. They go into every orderNumberExternal, so two
    shops (or a shop restarted on a fresh database) never send the same key for different orders."""
    return secrets.token_hex(3)
