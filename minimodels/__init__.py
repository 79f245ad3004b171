"""minimodels: notebook-first reference implementations of SegFormer, ViViT and VideoBERT.

One tested home per component; the notebooks in ``notebooks/`` import from here.
"""

__version__ = "0.1.0"
