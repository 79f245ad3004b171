"""Reduced training recipes: the runs the notebooks make, one module per paper.

- :mod:`minimodels.recipes.segformer` - SegFormer on DigitWorld segmentation scenes (notebook 02);
- :mod:`minimodels.recipes.vivit` - ViViT on DigitWorld motion videos (notebook 04);
- :mod:`minimodels.recipes.videobert` - VideoBERT's pipeline on narrated how-to videos (notebooks 05-09);
- :mod:`minimodels.recipes.common` - what they share: building a recipe from a profile, digit pretraining.

A recipe is a dataclass of the data, the model and one :class:`minimodels.train.TrainConfig` per
training stage; ``python -m minimodels.recipes NAME --profile PROFILE`` runs one
(:mod:`minimodels.recipes.__main__`). ``RECIPES`` maps each name to the function it runs:
``run(profile, out_dir, resume, progress, **recipe overrides) -> metrics dict``.
"""

from minimodels.recipes import segformer, videobert, vivit

RECIPES = {"segformer": segformer.run, "vivit": vivit.run, "videobert": videobert.run}
