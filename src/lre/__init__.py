"""lre: language representation embeddings and their reflection in brain responses.

Feature spaces from language networks, encoder-decoder transfer maps between every pair of
them, a low-dimensional embedding of the spaces (Antonello, Turek, Vo & Huth, NeurIPS 2021),
and voxelwise encoding models on fMRI.
"""

__version__ = "0.1.0"
