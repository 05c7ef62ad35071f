"""The brain link: how the embedding predicts each voxel's encoding performance.

- :mod:`.link`: leave-one-group-out prediction of performance from the coordinates, its
  baselines and null, and the principal-dimension map;
- :mod:`.flatmap`: the maps as pycortex flatmaps (optional);
- :mod:`.stage`: the stage's commands.
"""

from .link import (
    group_mean_predict,
    link,
    logo_predict,
    loso_predict,
    principal_map,
    sibling_mean_predict,
)

__all__ = ["group_mean_predict", "link", "logo_predict", "loso_predict", "principal_map", "sibling_mean_predict"]
