"""engine"""

# Registers mclust's covariance models (EII ... EVV) next to the built-in structures.
from . import mclust_models  # noqa: F401
