"""The transfer stage: encoder-decoder transfer maps between every pair of feature spaces.

- :mod:`.maps`: the split, the universal input, the bottleneck (and MLP) encoders, the
  decoders and direct transfer (paper section 3, in closed form);
- :mod:`.ridge`: the lean cross-validated ridge solver they share;
- :mod:`.similarity`: linear CKA and RSA, for comparison;
- :mod:`.stage`: the stage's commands.
"""

from .maps import (
    decode_target,
    direct_transfer,
    encode_space,
    fit_linear_encoder,
    fit_mlp_encoder,
    fold_labels,
    reduced_rank_ridge,
    split_documents,
    stack,
    universal_input,
    zscore,
)

__all__ = [
    "decode_target",
    "direct_transfer",
    "encode_space",
    "fit_linear_encoder",
    "fit_mlp_encoder",
    "fold_labels",
    "reduced_rank_ridge",
    "split_documents",
    "stack",
    "universal_input",
    "zscore",
]
