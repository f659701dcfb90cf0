"""Whether a request selects a field somewhere below the one being resolved."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.types.nodes import SelectedField, Selection

from resolvers.context import Info


def selects(info: Info, name: str) -> bool:
    """A field called `name` is selected below the current field: anywhere, through fragments,
    whatever its directives say. When in doubt, it is."""
    return _anywhere(info.selected_fields, name)


def _anywhere(selections: Sequence[Selection], name: str) -> bool:
    return any(
        (isinstance(selection, SelectedField) and selection.name == name)
        or _anywhere(selection.selections, name)
        for selection in selections
    )
