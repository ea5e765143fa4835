"""mclust's covariance models, registered: importing this module offers them everywhere.

The ten models of mclust (Scrucca et al. 2016, table 3) that are not built in, in mclust's
order: EII, EEI, VEI, EVI, VEE, EVE, VVE, EEV, VEV, EVV. The other four are the built-in
structures under scikit-learn's names: VII = ``spherical``, VVI = ``diag``,
EEE = ``tied``, VVV = ``full``. Their covariance-type names are mclust's model names.

mclust's univariate models E and V (:class:`UnivariateEqual`, :class:`UnivariateVarying`)
are registered after them. Every structure says for which data it is offered
(:meth:`~gmmcore.engine.covariance.CovarianceStructure.supports`): E and V for one feature
only, the fourteen multivariate ones for two or more, as mclust does
(``covariance_types(n_features)`` lists what applies).

See ``docs/covariance-models.md`` for the table of all fourteen models.
"""

from __future__ import annotations

from .covariance import CovarianceStructure, covariance_types, register_structure
from .mclust_diagonal import (
    EqualDiagonal,
    EqualRound,
    EqualVolumeDiagonal,
    UnivariateEqual,
    UnivariateVarying,
    VariableVolumeDiagonal,
)
from .mclust_ellipsoidal import (
    EqualShapeVariableVolume,
    EqualVolumeEqualShape,
    EqualVolumeVariableShape,
    VariableVolumeEqualShapeOrientation,
)
from .mclust_rotation import EqualVolumeCommonOrientation, VariableCommonOrientation

__all__ = [
    "MCLUST_FAMILIES",
    "MCLUST_MODELS",
    "MCLUST_ORDER",
    "UNIVARIATE_MODELS",
    "EqualDiagonal",
    "EqualRound",
    "EqualShapeVariableVolume",
    "EqualVolumeCommonOrientation",
    "EqualVolumeDiagonal",
    "EqualVolumeEqualShape",
    "EqualVolumeVariableShape",
    "UnivariateEqual",
    "UnivariateVarying",
    "VariableCommonOrientation",
    "VariableVolumeDiagonal",
    "VariableVolumeEqualShapeOrientation",
    "geometry",
]

#: The registered structures of this module, in mclust's order.
MCLUST_MODELS: tuple[CovarianceStructure, ...] = (
    EqualRound(),
    EqualDiagonal(),
    VariableVolumeDiagonal(),
    EqualVolumeDiagonal(),
    VariableVolumeEqualShapeOrientation(),
    EqualVolumeCommonOrientation(),
    VariableCommonOrientation(),
    EqualVolumeEqualShape(),
    EqualShapeVariableVolume(),
    EqualVolumeVariableShape(),
)
#: mclust's 14 multivariate model names in its own order (mclust.options("emModelNames")).
MCLUST_ORDER: tuple[str, ...] = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
#: mclust's univariate models, registered after the others (offered for one feature only).
UNIVARIATE_MODELS: tuple[CovarianceStructure, ...] = (UnivariateEqual(), UnivariateVarying())

for _structure in MCLUST_MODELS + UNIVARIATE_MODELS:
    if _structure.name not in covariance_types():  # importlib.reload must not fail
        register_structure(_structure)


#: mclust's models by shape of their ellipses, as its own documentation groups them.
MCLUST_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("round (spherical)", ("EII", "VII")),
    ("axis-aligned (diagonal)", ("EEI", "VEI", "EVI", "VVI")),
    ("any orientation (ellipsoidal)", ("EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")),
    ("one feature", ("E", "V")),
)
_LETTER = {"E": "equal", "V": "variable", "I": "identity"}


def geometry(mclust_name: str) -> dict[str, str]:
    """mclust's name in plain words: ``{"volume", "shape", "orientation"}``.

    Each letter says whether the components' volume (size), shape (ellipse proportions) and
    orientation are Equal across components, Variable, or the Identity (round shape; axes
    along the features). One-feature models (E, V) have only a variance.

    >>> geometry("VEV")
    {'volume': 'variable', 'shape': 'equal', 'orientation': 'variable'}
    >>> geometry("EII")["shape"]
    'identity (round)'
    """
    if mclust_name in ("E", "V"):
        word = _LETTER[mclust_name]
        return {"volume": word, "shape": "(one feature)", "orientation": "(one feature)"}
    if len(mclust_name) != 3 or any(c not in _LETTER for c in mclust_name):
        raise ValueError(f"{mclust_name!r} is not an mclust model name (e.g. 'VEV').")
    volume, shape, orientation = (_LETTER[c] for c in mclust_name)
    if shape == "identity":
        shape = "identity (round)"
    if orientation == "identity":
        orientation = "identity (along the axes)"
    return {"volume": volume, "shape": shape, "orientation": orientation}
