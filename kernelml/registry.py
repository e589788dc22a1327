"""Registries of named things (learners, policies, workloads, ...).

A registry maps a name to ``"module:attr"``, imported only when asked for
(Gymnasium-style specs).  Each family keeps its one table in its own package
and every registered entry must pass that family's conformance suite.
"""

from __future__ import annotations

import importlib
from typing import Any


class UnknownName(KeyError):
    def __str__(self) -> str:  # KeyError quotes its argument; this reads better in a CLI
        return str(self.args[0])


class Registry:
    def __init__(self, kind: str, table: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._table: dict[str, str] = dict(table or {})

    def register(self, name: str, target: str) -> None:
        if name in self._table:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if ":" not in target:
            raise ValueError(f"target must be 'module:attr', got {target!r}")
        self._table[name] = target

    def names(self) -> list[str]:
        return list(self._table)

    def __contains__(self, name: str) -> bool:
        return name in self._table

    def get(self, name: str) -> Any:
        try:
            target = self._table[name]
        except KeyError:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(self._table)}") from None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def make(self, name: str, **kwargs) -> Any:
        return self.get(name)(**kwargs)

    def describe(self) -> list[tuple[str, str]]:
        """(name, first line of the docstring) for every entry."""
        out = []
        for name in self._table:
            doc = (self.get(name).__doc__ or "").strip().splitlines()
            out.append((name, doc[0] if doc else ""))
        return out
