"""Exceptions perturbx raises for bad input; the CLI turns them into one-line messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PerturbxError(ValueError):
    """A user error: bad input, configuration or argument. Raised before any model query."""


class ConfigError(PerturbxError):
    """A configuration (YAML, dict or keyword arguments) that does not validate."""


def unknown_choice(what: str, given: str, choices: Iterable[str]) -> PerturbxError:
    """Build the error for an unknown name, suggesting close matches and listing the valid ones."""
    choices = sorted(choices)
    close = difflib.get_close_matches(given, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(f"unknown {what} {given!r}.{hint} Valid choices: {', '.join(choices)}")
