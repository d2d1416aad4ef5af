"""SMART scopes (App Launch 2.x "Scopes for requesting clinical data"): v2 `system/Type.cruds`, and
v1 `system/Type.read|write|*`, with `*` for any resource type."""
from __future__ import annotations

import re
from dataclasses import dataclass

SCOPE = re.compile(r"(system|user|patient)/(\*|[A-Z][A-Za-z]{1,63})\.(\*|read|write|c?r?u?d?s?)(\?.*)?")
V1_ACTIONS = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    """One parsed scope: who it is for, the resource type (or '*'), and the actions it allows."""

    context: str
    resource: str
    actions: frozenset[str]

    def covers(self, other: Scope) -> bool:
        return (self.context == other.context and self.resource in ("*", other.resource)
                and other.actions <= self.actions)

    def allows(self, resource: str, action: str) -> bool:
        return self.context == "system" and self.resource in ("*", resource) and action in self.actions


def parse_scope(text: str) -> Scope | None:
    """A scope we understand, or None (unknown syntax, or v2 actions out of order)."""
    found = SCOPE.fullmatch(text)
    if not found or found.group(4):  # fine-grained `?param=` scopes are not offered
        return None
    context, resource, actions = found.group(1), found.group(2), found.group(3)
    letters = V1_ACTIONS.get(actions, actions)
    if not letters:
        return None
    return Scope(context, resource, frozenset(letters))


def parse_scopes(text: str) -> list[Scope]:
    return [s for word in text.split() if (s := parse_scope(word))]


def grant(registered: str, requested: str) -> list[str]:
    """The requested scopes the registration covers (requested ∩ registered), in the order asked."""
    allowed = parse_scopes(registered)
    out = []
    for word in dict.fromkeys(requested.split()):
        scope = parse_scope(word)
        if scope is not None and any(a.covers(scope) for a in allowed):
            out.append(word)
    return out


def permits(granted: list[Scope], resource: str, action: str) -> bool:
    """Whether any granted system scope allows `action` (c r u d s) on `resource`."""
    return any(s.allows(resource, action) for s in granted)
