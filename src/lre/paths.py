"""The results/ naming scheme, written once.

Every file lre writes under the results folder is named here, as a template relative to
``results`` with Snakemake-style wildcards (``{model}``, ``{space}``, ``{method}``,
``{subject}``, ``{story}``). The rules (workflow/rules/common.smk), the stage commands,
:class:`lre.results.Results` and the synthetic dataset all build their paths from
:class:`Layout`, so a name changes in one place only.

The demo's synthetic responses live under ``demo/`` in the layout of the LeBel et al.
dataset; that layout belongs to the dataset's loader (:mod:`lre.datasets.lebel2023`), which
is asked for it with the demo folder as its root.
"""

from __future__ import annotations

import os

#: name -> path relative to the results folder
TEMPLATES: dict[str, str] = {
    # stimuli (the demo writes its stimuli under demo/, as real data would sit in a dataset)
    "demo_root": "demo",
    "demo_textgrid": "demo/derivative/TextGrids/{story}.TextGrid",
    "demo_trfile": "demo/derivative/trfiles/{story}.tr",
    "demo_corpus": "demo/corpus.txt",
    "demo_manifest": "demo/manifest.json",
    "documents": "stimuli/stories.h5",
    "corpus_documents": "stimuli/corpus.h5",
    "corpus_check": "stimuli/corpus_check.json",
    # features: the stories' (per dataset) and the corpus' (on the corpus side)
    "features": "features/stories/{model}.h5",
    "corpus_features": "features/corpus/{model}.h5",
    "features_summary": "features/summary.csv",
    # transfer
    "split": "transfer/split.json",
    "universal": "transfer/universal.h5",
    "encoder": "transfer/{method}/encoders/{space}.h5",
    "decoder": "transfer/{method}/decoders/{space}.h5",
    "mse": "transfer/{method}/mse.h5",
    "direct_source": "transfer/direct/sources/{space}.h5",
    "direct": "transfer/direct.h5",
    "similarity": "transfer/similarity.h5",
    "comparison_png": "transfer/comparison.png",
    "comparison_csv": "transfer/comparison.csv",
    # embedding (one folder per method)
    "embedding_h5": "embedding/{method}/embedding.h5",
    "embedding_coords": "embedding/{method}/coords.csv",
    "embedding_affinity": "embedding/{method}/affinity.csv",
    "embedding_eigenvalues": "embedding/{method}/eigenvalues.csv",
    "embedding_layers": "embedding/{method}/layers.csv",
    "embedding_affinity_png": "embedding/{method}/affinity.png",
    "embedding_scree_png": "embedding/{method}/scree.png",
    "embedding_2d_png": "embedding/{method}/embedding_2d.png",
    "embedding_3d_png": "embedding/{method}/embedding_3d.png",
    # the demo's synthetic fMRI data (beside the LeBel layout under demo/)
    "demo_mask": "demo/derivative/masks/{subject}_mask.nii.gz",
    "demo_truth": "demo/truth/{subject}.h5",
    "demo_gradient": "demo/truth/{subject}_gradient.nii.gz",
    # encoding
    "encoding": "encoding/{subject}/{space}.h5",
    "encoding_nii": "encoding/{subject}/{space}_r.nii.gz",
    "noise_ceiling": "encoding/{subject}/noise_ceiling.h5",
    "noise_ceiling_nii": "encoding/{subject}/noise_ceiling.nii.gz",
    "noise_ceiling_png": "encoding/{subject}/noise_ceiling.png",
    "encoding_summary": "encoding/{subject}/summary.csv",
    "recovery": "encoding/{subject}/recovery.json",
    "performance_png": "encoding/performance.png",
    # variance partitioning
    "partition": "partition/{subject}/{space}.h5",
    "partition_nii": "partition/{subject}/{space}_unique.nii.gz",
    "partition_table": "partition/{subject}/summary.csv",
    "partition_png": "partition/{subject}/unique.png",
    # brain link
    "brainlink": "brainlink/{subject}.h5",
    "brainlink_scatter": "brainlink/{subject}_scatter.png",
    "brainlink_score_nii": "brainlink/{subject}_score.nii.gz",
    "brainlink_score_png": "brainlink/{subject}_score.png",
    "brainlink_principal_nii": "brainlink/{subject}_principal.nii.gz",
    "brainlink_principal_png": "brainlink/{subject}_principal.png",
    "brainlink_check": "brainlink/{subject}_check.json",
    "flatmap_principal": "brainlink/{subject}_principal_flat.png",
    "flatmap_score": "brainlink/{subject}_score_flat.png",
    "brainlink_summary": "brainlink/summary.csv",
    "space_table": "summary.csv",
    "report": "report.html",
    # interactive views (self-contained HTML)
    "viewer_embedding": "viewer/embedding_{method}.html",
    "viewer_map": "viewer/{subject}_{kind}.html",
    "viewer_surface": "viewer/{subject}_{kind}_surface.html",
    "logs": "logs",
}

#: the maps (NIfTI in a volume; on the surface a GIfTI file per hemisphere, named by
#: :func:`surface_name`)
MAPS: frozenset[str] = frozenset(
    ["encoding_nii", "noise_ceiling_nii", "partition_nii", "brainlink_score_nii", "brainlink_principal_nii"]
)


def surface_name(template: str) -> str:
    """A map's name on the surface: its left hemisphere's GIfTI file (``x.nii.gz`` ->
    ``x_hemi-L.func.gii``; the right one has ``hemi-R``)."""
    return template[: -len(".nii.gz")] + "_hemi-L.func.gii"


#: rule name -> its log file, relative to the results folder
LOGS: dict[str, str] = {
    "demo_data": "logs/demo_data.log",
    "stimuli": "logs/stimuli.log",
    "corpus_documents": "logs/corpus.log",
    "corpus_check": "logs/corpus_check.log",
    "features": "logs/features/stories/{model}.log",
    "corpus_features": "logs/features/corpus/{model}.log",
    "features_summary": "logs/features_summary.log",
    "transfer_prepare": "logs/transfer/prepare.log",
    "transfer_encode": "logs/transfer/{method}/encode_{chunk}.log",
    "transfer_decode": "logs/transfer/{method}/decode_{chunk}.log",
    "transfer_gather": "logs/transfer/{method}/gather.log",
    "transfer_direct": "logs/transfer/direct/{chunk}.log",
    "direct_gather": "logs/transfer/direct_gather.log",
    "similarity": "logs/transfer/similarity.log",
    "embedding": "logs/embedding/{method}.log",
    "compare_methods": "logs/transfer/compare.log",
    "demo_respdict": "logs/demo_respdict.log",
    "demo_fmri": "logs/demo_fmri/{subject}.log",
    "encode": "logs/encoding/{subject}/{chunk}.log",
    "noise_ceiling": "logs/encoding/{subject}/noise_ceiling.log",
    "encoding_summary": "logs/encoding/{subject}/summary.log",
    "performance_figure": "logs/encoding/performance_figure.log",
    "recovery": "logs/encoding/{subject}/recovery.log",
    "partition": "logs/partition/{subject}.log",
    "brainlink": "logs/brainlink/{subject}.log",
    "flatmap": "logs/brainlink/{subject}_flatmap.log",
    "space_table": "logs/brainlink/space_table.log",
    "brainlink_check": "logs/brainlink/{subject}_check.log",
    "viewer_embedding": "logs/viewer/embedding_{method}.log",
    "viewer_maps": "logs/viewer/{subject}_maps.log",
    "report": "logs/report.log",
}

#: what depends on the transfer corpus alone (its documents and features, the transfer maps,
#: the comparisons and the embedding): these live under the corpus root, which several
#: dataset configs may share (``corpus_results``; by default the results folder itself)
CORPUS_SIDE: frozenset[str] = frozenset(
    ["corpus_documents", "corpus_features", "split", "universal", "encoder", "decoder", "mse", "direct_source"]
    + ["direct", "similarity", "comparison_png", "comparison_csv"]
    + [name for name in TEMPLATES if name.startswith("embedding_")]
)
#: the rules whose logs go under the corpus root
CORPUS_SIDE_LOGS: frozenset[str] = frozenset(
    ["corpus_documents", "corpus_features", "transfer_prepare", "transfer_encode", "transfer_decode"]
    + ["transfer_gather", "transfer_direct", "direct_gather", "similarity", "embedding", "compare_methods"]
)

#: the embedding stage's outputs: command option -> template
EMBEDDING_OUTPUTS = {
    "h5": "embedding_h5",
    "coords": "embedding_coords",
    "affinity": "embedding_affinity",
    "eigenvalues": "embedding_eigenvalues",
    "layers": "embedding_layers",
    "affinity_png": "embedding_affinity_png",
    "scree_png": "embedding_scree_png",
    "embedding2d_png": "embedding_2d_png",
    "embedding3d_png": "embedding_3d_png",
}


class Layout:
    """The paths of one results folder (and of its corpus root).

    ``layout["encoding"]`` is a template with the root prepended (wildcards left in, for
    the rules); ``layout.path("encoding", subject="sub01", space="glove.vec")`` fills it in.
    The names in :data:`CORPUS_SIDE` are under ``corpus_root`` (the results folder unless
    given). With ``surface`` (responses on a cortical surface), a map (:data:`MAPS`) is
    named by its left hemisphere's GIfTI file (:func:`surface_name`).
    """

    def __init__(self, root: str | os.PathLike, corpus_root: str | os.PathLike | None = None, surface: bool = False):
        self.root = os.fspath(root)
        self.corpus_root = os.fspath(corpus_root) if corpus_root is not None else self.root
        self.surface = surface

    def __getitem__(self, name: str) -> str:
        if name not in TEMPLATES:
            raise KeyError(f"no results path named {name!r}; known: {sorted(TEMPLATES)}")
        root = self.corpus_root if name in CORPUS_SIDE else self.root
        template = surface_name(TEMPLATES[name]) if self.surface and name in MAPS else TEMPLATES[name]
        return os.path.join(root, *template.split("/"))

    def path(self, name: str, **wildcards) -> str:
        return self[name].format(**wildcards)

    def templates(self) -> dict[str, str]:
        return {name: self[name] for name in TEMPLATES}

    def log(self, rule: str, **wildcards) -> str:
        """The log file of ``rule`` (wildcards not given are left in)."""
        if rule not in LOGS:
            raise KeyError(f"no log named {rule!r}; known: {sorted(LOGS)}")
        root = self.corpus_root if rule in CORPUS_SIDE_LOGS else self.root
        template = os.path.join(root, *LOGS[rule].split("/"))
        return template.format_map(_Keep(wildcards)) if wildcards else template


class _Keep(dict):
    """Formatting that leaves unknown wildcards in place."""

    def __missing__(self, key):
        return "{" + key + "}"
