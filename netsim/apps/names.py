"""The built-in app names, in one place so topology validation needs no app code."""

from __future__ import annotations

BUILTIN_APP_NAMES: tuple[str, ...] = ("echo", "flood", "gossip")
DEFAULT_APP = "flood"


def is_app_spec(value: str) -> bool:
    """True for a built-in name or a ``module:Class`` spec (resolved later, when the run starts)."""
    if value in BUILTIN_APP_NAMES:
        return True
    module, sep, cls = value.partition(":")
    return bool(sep and module and cls)
