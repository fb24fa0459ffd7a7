"""``--help`` that reads like ``gh`` or ``uv``: ``rag search [OPTIONS] QUERY``, no types on flags.

Typer renders a required argument as ``{query}`` in the usage line, prints a
``<str>`` type after every argument and ``<bool>`` after every flag (which takes
no value), and ``<list[str]>`` after repeatable options. Typer builds the
parameter objects itself, so the command classes here swap in subclasses that
render the help text differently; parsing is unchanged.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    """Shown by its upper-case name (``QUERY``, ``[QUERY]``, ``PATHS...``), without a type."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(TyperOption):
    """A flag shows no value type; others show ``<int>``, ``<path>``, or the element type when repeatable."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is None and self.type_descriptor.is_ranged:  # "<int range>": the range follows anyway
            return f"<{self.type_descriptor.ranged_type_name}>"
        if self.metavar is None and self.multiple:
            annotation = getattr(self.type_descriptor, "annotation", None)
            args: tuple[Any, ...] = getattr(annotation, "__args__", ())
            return f"<{self._bare_type(args[0])}>" if len(args) == 1 else None
        return super().display_type_rich(ctx)


def _readable(params: list[Any]) -> list[Any]:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option
    return params


class RagCommand(TyperCommand):
    """A sub-command whose help reads as written (see the module docstring)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(list(super().get_params(ctx)))


class RagGroup(TyperGroup):
    """A command group whose own options are shown the same way."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(list(super().get_params(ctx)))
