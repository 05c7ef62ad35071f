"""The embedding stage: the language representation embedding of the feature spaces.

- :mod:`.mds`: tournament -> affinity -> weighted classical MDS (the paper's notebook,
  vectorised), explained variance, sign fixing and the order of each network's layers;
- :mod:`.stage`: the ``embedding`` and ``compare`` commands.
"""

from .mds import (
    affinity,
    anchor_signs,
    correlation_distance,
    embed,
    explained_variance,
    layer_order,
    space_weights,
    tournament,
    weighted_mds,
)

__all__ = [
    "affinity",
    "anchor_signs",
    "correlation_distance",
    "embed",
    "explained_variance",
    "layer_order",
    "space_weights",
    "tournament",
    "weighted_mds",
]
