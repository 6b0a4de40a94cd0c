"""How a model shows itself: the hook through which ``_display`` draws the models.

The models are data and never import ``_display`` (it imports them). Those
that people look at derive from :class:`Described` (a short ``repr``) or
:class:`Drawn` (also ``_repr_html_`` in a notebook and ``__rich__`` in a rich
console); their methods ask the one :class:`Presenter` that ``_display``
registers with :func:`set_presenter` when it is imported. ``aioflowserv``
imports ``_display``, so every model is drawn once the package is loaded.
Classes of the modules above ``_display`` (a batch, a download, the watcher's
statistics, the workflows) derive from :class:`Drawn` too, and hand their
drawings (written in ``_display``) to ``_display.register`` next to their
definition.

Layer order: ``_errors``, ``_config``, ``_saved``, ``_presenter`` (which
imports nothing of the package), ``_arguments``, ``_parameters``, ``_models``
(whose classes derive from it), ``_display`` (which fills it).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Described", "Drawn", "Presenter", "presenter", "set_presenter"]


class Presenter(Protocol):
    """How the models show themselves: ``_display`` registers one (:func:`set_presenter`)."""

    def text(self, model: Any) -> str:
        """The short ``repr`` of a model (a line: ids, names, state, counts)."""

    def html(self, model: Any) -> str:
        """The model as HTML, for notebooks (``_repr_html_``)."""

    def rich(self, model: Any) -> Any:
        """The model as a rich renderable, for rich consoles (``__rich__``)."""

    def summary(self, model: Any) -> str:
        """A line of words about a collection (``Timeline.summary``)."""


_PRESENTER: Presenter | None = None


def set_presenter(presenter: Presenter) -> None:
    """Register how the models show themselves (``_display`` does, when it is imported)."""
    global _PRESENTER
    _PRESENTER = presenter


def presenter() -> Presenter:
    """The registered presenter (an error before ``_display`` is loaded)."""
    if _PRESENTER is None:  # only while the package itself is being imported
        raise RuntimeError("the models are drawn by aioflowserv._display, which is not loaded")
    return _PRESENTER


class Described:
    """A model with a short ``repr``, written by the registered :class:`Presenter`."""

    __slots__ = ()

    def __repr__(self) -> str:
        if _PRESENTER is None:  # only while the package itself is being imported
            return object.__repr__(self)
        return _PRESENTER.text(self)


class Drawn(Described):
    """A model that also shows as a table: HTML in a notebook, rich in a console."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return presenter().html(self)

    def __rich__(self) -> Any:
        return presenter().rich(self)
