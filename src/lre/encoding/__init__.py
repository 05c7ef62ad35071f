"""The encoding stage: voxelwise ridge encoding models of every space for every subject.

- :mod:`.models`: the solvers (lean cross-validated ridge, himalaya's), scoring,
  block-permutation significance, FDR and the noise ceiling;
- :mod:`.stage`: the stage's commands.
"""

from .models import (
    BACKENDS,
    SOLVERS,
    block_permutation_pvalues,
    block_permutation_test,
    correlation,
    fdr_bh,
    fit_and_score,
    himalaya_ridge_cv,
    lean_flops,
    lean_ridge_cv,
    noise_ceiling,
    prepare_story,
    set_backend,
    story_folds,
)

__all__ = [
    "BACKENDS",
    "SOLVERS",
    "himalaya_ridge_cv",
    "block_permutation_pvalues",
    "block_permutation_test",
    "correlation",
    "fdr_bh",
    "fit_and_score",
    "lean_flops",
    "lean_ridge_cv",
    "noise_ceiling",
    "prepare_story",
    "set_backend",
    "story_folds",
]
