"""mclust's covariance models, registered: importing this module offers them everywhere.

The ten models of mclust (Scrucca et al. 2016, table 3) that are not built in, in mclust's
order: EII, EEI, VEI, EVI, VEE, EVE, VVE, EEV, VEV, EVV. The other four are the built-in
structures under scikit-learn's names: VII = ``spherical``, VVI = ``diag``,
EEE = ``tied``, VVV = ``full``. Their covariance-type names are mclust's model names.

mclust's univariate models E and V (:class:`UnivariateEqual`, :class:`UnivariateVarying`)
are defined but not registered: the registry has no notion of a structure that only applies
to one feature, and registered ones are offered (and fitted by the default model grid) for
every dataset. Register them yourself for one-feature data::

    register_structure(UnivariateEqual()); register_structure(UnivariateVarying())

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
#: mclust's univariate models (not registered; see the module docstring).
UNIVARIATE_MODELS: tuple[CovarianceStructure, ...] = (UnivariateEqual(), UnivariateVarying())

for _structure in MCLUST_MODELS:
    if _structure.name not in covariance_types():  # importlib.reload must not fail
        register_structure(_structure)
