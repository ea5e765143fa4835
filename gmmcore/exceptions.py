"""gmmcore's exceptions and warnings, caught by code written for scikit-learn too.

scikit-learn is not a run-time dependency, and importing it costs seconds (the dashboard's first
page must not pay them), so gmmcore never imports it. Yet code written for scikit-learn catches
``sklearn.exceptions.NotFittedError`` and filters ``sklearn.exceptions.ConvergenceWarning``.
Python matches ``except`` clauses and warning filters on the real class hierarchy (not on
``__subclasscheck__``), so an ABC ``register`` cannot do it: the object raised must belong to a
real subclass of scikit-learn's class. The mechanism:

- :class:`NotFittedError` and :class:`ConvergenceWarning` are gmmcore's own classes; catching or
  filtering them always works.
- Creating one (``NotFittedError("...")``) gives an instance of a private subclass of **both**
  gmmcore's class and scikit-learn's whenever scikit-learn has already been imported in the
  process (``sklearn.exceptions`` is in ``sys.modules``; ``import sklearn`` loads it), else an
  instance of gmmcore's class. Code that names ``sklearn.exceptions.NotFittedError`` has
  imported scikit-learn, so it catches what gmmcore raises; code that never imports
  scikit-learn never pays for it. gmmcore takes scikit-learn's classes from ``sys.modules``
  and has no ``import sklearn`` anywhere.
- The private subclasses are built on first use and found again by name through this module's
  ``__getattr__``, so instances pickle; unpickled in a process without scikit-learn loaded,
  they become gmmcore's own class.

Examples
--------
>>> import sys, warnings
>>> from gmmcore.exceptions import ConvergenceWarning, NotFittedError
>>> issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
True
>>> isinstance(NotFittedError("call fit first"), NotFittedError)
True
>>> import sklearn.exceptions  # doctest: +SKIP
>>> isinstance(NotFittedError("x"), sklearn.exceptions.NotFittedError)  # doctest: +SKIP
True
"""

from __future__ import annotations

import sys

__all__ = ["ConvergenceWarning", "NotFittedError", "sklearn_loaded"]

# Private subclass name -> (gmmcore base name, scikit-learn class name in sklearn.exceptions).
_SKLEARN_VARIANTS = {
    "_SklearnNotFittedError": ("NotFittedError", "NotFittedError"),
    "_SklearnConvergenceWarning": ("ConvergenceWarning", "ConvergenceWarning"),
}


def sklearn_loaded() -> bool:
    """Whether scikit-learn has been imported in this process (never imports it)."""
    return sys.modules.get("sklearn.exceptions") is not None


class _SklearnCompatible:
    """Mixin: instantiating the gmmcore class itself gives the scikit-learn-compatible variant
    when scikit-learn is loaded (see the module docstring)."""

    _variant_name: str = ""

    def __new__(cls, *args, **kwargs):
        if cls.__dict__.get("_variant_name") and sklearn_loaded():
            cls = _variant(cls._variant_name)
        return super().__new__(cls, *args, **kwargs)


class NotFittedError(_SklearnCompatible, ValueError, AttributeError):
    """An estimator is used before ``fit``.

    A ValueError and an AttributeError, as scikit-learn's; an instance is also a
    ``sklearn.exceptions.NotFittedError`` when scikit-learn is loaded.
    """

    _variant_name = "_SklearnNotFittedError"


class ConvergenceWarning(_SklearnCompatible, UserWarning):
    """EM stopped at ``max_iter`` before the lower bound changed by less than ``tol``.

    An instance is also a ``sklearn.exceptions.ConvergenceWarning`` when scikit-learn is
    loaded, so scikit-learn's warning filters apply to it; emit it as an instance
    (``warnings.warn(ConvergenceWarning(msg))``) so the filters see that class.
    """

    _variant_name = "_SklearnConvergenceWarning"


def _variant(name: str) -> type:
    """The private subclass ``name`` of gmmcore's and scikit-learn's classes, built once.
    Callers check :func:`sklearn_loaded` first."""
    cls = globals().get(name)
    if cls is None:
        ours, theirs = _SKLEARN_VARIANTS[name]
        # Named like the public class (warnings print category.__name__); the qualname is
        # the module attribute pickle finds it by.
        cls = type(
            ours,
            (globals()[ours], getattr(sys.modules["sklearn.exceptions"], theirs)),
            {
                "__module__": __name__,
                "__qualname__": name,
                "__doc__": f"{ours} that is also scikit-learn's {theirs}.",
                "_variant_name": "",
            },
        )
        globals()[name] = cls
    return cls


def __getattr__(name: str):
    # Unpickling a variant instance looks its class up here by name: build it on demand, or
    # give gmmcore's own class when scikit-learn is not loaded.
    if name in _SKLEARN_VARIANTS:
        return _variant(name) if sklearn_loaded() else globals()[_SKLEARN_VARIANTS[name][0]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
