# %% [markdown] slideshow={"slide_type": "slide"}
# # VideoBERT V: captioning when captions are scarce
#
# Sun, Myers, Vondrick, Murphy, Schmid. *VideoBERT: A Joint Model for Video and Language
# Representation Learning.* ICCV 2019 ([arXiv 1904.01766](https://arxiv.org/abs/1904.01766)).
#
# **What the paper claims**
#
# - VideoBERT's features, concatenated to S3D's, make a captioning model better than S3D's features
#   alone on YouCook2 (BLEU-4 4.33 vs 3.24). VideoBERT learned them from 312K narrated cooking
#   videos without a single caption; the captioner had YouCook2's training captions only, about
#   1.3K videos' worth: the captions are scarce next to the narrated video.
#
# **What you will see** (notebook 5 of 5; the model comes from notebook 06):
#
# 1. the main model of notebook 06 (loaded, or trained here if notebook 06 has not run);
# 2. captioning with captions for fewer and fewer training segments, VideoBERT + S3D against S3D alone,
#    three seeds of the whole pipeline per point (recorded);
# 3. the control: how often VideoBERT's own reading of a segment names its words, against a captioner
#    that had 60 captions; a results table and questions; in the appendix, example captions and the
#    paper's captioning template as VideoBERT fills it from a segment's visual words alone.
#
# Korean terms of the seed deck: see the [glossary](GLOSSARY.md).

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The curve is a recorded study (`results/videobert_captioning.json`): three seeds of
# the whole pipeline - clip network, VideoBERT and the captioners at four caption budgets - about 40
# CPU-minutes. Live here: notebook 06's model (from its cache), the captioning template it fills, and the
# two captioners of the smallest budget (seed 0), whose captions are the examples. The point to make:
# notebook 06's setting gives the captioner a caption for every segment VideoBERT saw, which is not the
# paper's; here the captions shrink while VideoBERT's pre-training stays, and the seeds show how much of
# each difference is noise.

# %% slideshow={"slide_type": "skip"}
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from minimodels import experiments, profiles, report
from minimodels.metrics import bleu4
from minimodels.data.howto import CAPTION_TEMPLATE
from minimodels.recipes.videobert import (
    CAPTION_BUDGETS,
    CAPTION_FEATURES,
    caption_dataset,
    caption_segments,
    captioning_recipe,
    generate_captions,
    main_videobert,
    train_captioner,
    videobert_recipe,
)
from minimodels.report import CACHE_DIR, print_table, record
from minimodels.tokens import tokenize
from minimodels.videobert import fill_masks

NB = "09_videobert_captioning"
show = report.figure_saver(NB)
torch.manual_seed(0)
np.random.seed(0)

# %% slideshow={"slide_type": "skip"} tags=["nbval-ignore-output"]
PROFILE = profiles.current()
RECIPE = videobert_recipe(PROFILE)
print(f"profile: {PROFILE}   torch {torch.__version__}   threads: {torch.get_num_threads()}")

# %% [markdown] slideshow={"slide_type": "slide"} tags=["appendix"]
# ## 1. The main model and the two feature sets
#
# Clip network (notebook 05), visual words, and the VideoBERT of notebook 06, loaded from `runs/cache/`
# (trained here when they are missing). The features are notebook 06's: per segment (two consecutive
# steps), every clip's S3D feature, alone or with VideoBERT's features of the segment concatenated
# (the template "now let's [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]", the outputs
# at the video tokens and at the masks, each averaged). The captioner normalises each source on its own
# (`feature_groups`): one LayerNorm over the concatenation would divide the S3D part by a scale set
# mostly by VideoBERT's larger part.

# %% tags=["nbval-ignore-output"]
t0 = time.perf_counter()
vw, text_bert, model = main_videobert(RECIPE, cache_dir=CACHE_DIR / "videobert", log=print)
vocab = vw.vocab
FEATURES = {"S3D": {}, "VideoBERT + S3D": dict(model=model, vocab=vocab)}
train_sets = {k: caption_dataset(vw.train_videos, vw.train_features, vw.train_tokens, **kw) for k, kw in FEATURES.items()}
test_sets = {k: caption_dataset(vw.test_videos, vw.test_features, vw.test_tokens, **kw) for k, kw in FEATURES.items()}
D = train_sets["S3D"][0].shape[-1]  # clip-feature size; the rest of VideoBERT + S3D's is VideoBERT's
GROUPS = {"S3D": None, "VideoBERT + S3D": (D, train_sets["VideoBERT + S3D"][0].shape[-1] - D)}
references = test_sets["S3D"][2]
n_train = len(train_sets["S3D"][2])
print(f"{n_train} captioned training segments from {len(vw.train_videos)} videos, {len(references)} held-out; "
      f"features per clip: S3D {D}, VideoBERT + S3D {sum(GROUPS['VideoBERT + S3D'])} ({time.perf_counter() - t0:.0f} s)")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### The captioning template, filled by VideoBERT
#
# The paper's template for a segment (seed claim V17): "now let's [MASK] the [MASK] to the [MASK], and
# then [MASK] the [MASK]." What VideoBERT writes into the masks when it sees a held-out segment's
# visual words - no captioner involved - next to what the segment shows; the last line is the same
# template with no video (the language prior): a fill that does not change with the video is the prior's.

# %% tags=["appendix", "hide-input", "nbval-ignore-output"]
segments = [(i, a, b, caption) for i, v in enumerate(vw.test_videos) for a, b, caption in caption_segments(v)][:5]
fills = fill_masks(model, [vw.test_tokens[i][a:b].tolist() for i, a, b, _ in segments], vocab, CAPTION_TEMPLATE)
print_table([(caption, filled) for (_, _, _, caption), filled in zip(segments, fills)],
            ["the segment shows", "VideoBERT fills the template"])
print("text alone (no video):", fill_masks(model, None, vocab, CAPTION_TEMPLATE)[0])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. BLEU-4 against the number of captions
#
# The captioner learns from the captioned segments of the first training videos only (VideoBERT keeps
# its pre-training on all of them), then captions every held-out segment; a small caption set is trained
# for fewer steps (it is seen hundreds of times either way). A seed is the whole pipeline: clip network,
# visual words, VideoBERT and captioner. Left: mean and range of the seeds; right: the difference seed by
# seed (the two captioners of a seed share everything up to their features).

# %% tags=["hide-input", "nbval-ignore-output"]
study = experiments.load("videobert_captioning")
BUDGETS = list(CAPTION_BUDGETS)
bleu = {(b, f): report.arm_values(study, f"{b}, {f}", "bleu4") for b in BUDGETS for f in CAPTION_FEATURES}
sizes = {b: int(report.arm_values(study, f"{b}, S3D", "captions")[0]) for b in BUDGETS}
fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
for f, colour, dx in (("S3D", "tab:gray", 0.97), ("VideoBERT + S3D", "tab:blue", 1.03)):
    means = [np.mean(bleu[b, f]) for b in BUDGETS]
    yerr = [[m - min(bleu[b, f]) for m, b in zip(means, BUDGETS)], [max(bleu[b, f]) - m for m, b in zip(means, BUDGETS)]]
    ax.errorbar([sizes[b] * dx for b in BUDGETS], means, yerr=yerr, fmt="o-", capsize=3, color=colour, label=f)
gains = {b: report.gain(study, f"{b}, VideoBERT + S3D", f"{b}, S3D", "bleu4", name=f"{sizes[b]} captions",
                        over_name="S3D alone", unit="BLEU-4", digits=2) for b in BUDGETS}
for b in BUDGETS:
    ax_d.plot([sizes[b]] * len(gains[b]["per_seed"]), gains[b]["per_seed"], "o", color="tab:blue", alpha=0.6)
ax_d.plot([sizes[b] for b in BUDGETS], [gains[b]["mean"] for b in BUDGETS], "k_", ms=18, label="mean")
ax_d.axhline(0, color="gray", lw=0.8)
ax_d.axhline(4.33 - 3.24, color="#cb181d", ls=":", lw=1, label="the paper's gain (YouCook2, all captions)")
ax.set(ylabel="BLEU-4 (held-out)", title="mean and range of the seeds")
ax_d.set(ylabel="BLEU-4, VideoBERT + S3D minus S3D", title="the difference, seed by seed")
for a in (ax, ax_d):
    a.set_xscale("log"), a.set_xticks([sizes[b] for b in BUDGETS], [str(sizes[b]) for b in BUDGETS])
    a.minorticks_off(), a.set_xlabel("captioned training segments"), a.legend(fontsize=8)
show(fig, "captions_curve")
print(f"recorded by: {study['command']} (one process per seed, merged)\non {study['date']}, "
      f"{study['machine']['cpu']}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Where VideoBERT + S3D is ahead, computed** (paired by seed, BLEU-4 points):

# %% tags=["hide-input", "nbval-ignore-output"]
ahead = [b for b in BUDGETS if gains[b]["sign"] == 1]
display(Markdown("  \n".join([gains[b]["sentence"] for b in BUDGETS] + [
    "**The paper's claim, VideoBERT's features help a captioner:** " + (
        f"every seed agrees at {', '.join(str(sizes[b]) for b in ahead)} captioned segments" if ahead
        else "no number of captions where every seed agrees")])))

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Reading it.** Why a gain can only be modest: VideoBERT's features are computed from the visual
# words, which are computed from the S3D features - they hold nothing about a clip that S3D's do not.
# What they add is a *reading* of it: at the template's masks they are VideoBERT's guesses of the verbs
# and nouns, learned from narration without a single caption. A captioner with few examples could use
# that reading almost directly - if it named the segment's words more often than the captioner learns to
# from S3D's features on its own. The control on the next slide measures exactly that.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The control: what each names, with 60 captions or none
#
# Whether the features hold anything a captioner can use, measured on every held-out segment: how often the
# words in a caption's four slots ("*lift* the *three* and then *spin* the *seven*") are the segment's.
# VideoBERT's own reading is its fill of the captioning template (no caption seen; the template's third
# mask, a destination, has no slot here); the language prior is the same template with no video; the
# captioners are the two of the smallest budget, seed 0, trained here (about half a minute).

# %% tags=["hide-input", "nbval-ignore-output"]
t0 = time.perf_counter()
FEWEST = BUDGETS[0]
live, captions = {}, {}
for f in FEATURES:
    recipe = captioning_recipe(PROFILE, FEWEST, f)
    (X, M, C), (Xt, Mt, _) = train_sets[f], test_sets[f]
    n = min(recipe.n_captions, n_train)
    captioner = train_captioner(X[:n], M[:n], C[:n], vocab, recipe.caption, feature_groups=GROUPS[f], log=None)
    captions[f] = generate_captions(captioner, Xt, Mt, vocab)
    live[f] = bleu4(captions[f], references)
held_out = [(i, a, b) for i, v in enumerate(vw.test_videos) for a, b, _ in caption_segments(v)]
masks = [k for k, w in enumerate(tokenize(CAPTION_TEMPLATE)) if w == "[MASK]"]
template_slots = [masks[0], masks[1], masks[3], masks[4]]  # verb, noun, (destination), verb, noun
CAPTION_SLOTS = [0, 2, 5, 7]  # "lift the three and then spin the seven"


def slot_words(sentences, slots):
    return [[words[k] if len(words) > max(slots) else None for k in slots] for words in map(tokenize, sentences)]


truth = slot_words(references, CAPTION_SLOTS)
readings = {"VideoBERT's fill of the template (no caption)": slot_words(
                fill_masks(model, [vw.test_tokens[i][a:b].tolist() for i, a, b in held_out], vocab, CAPTION_TEMPLATE),
                template_slots),
            "the template with no video (language prior)": slot_words(
                fill_masks(model, None, vocab, CAPTION_TEMPLATE), template_slots) * len(held_out)}
readings |= {f"captioner on {f}, {FEWEST}": slot_words(captions[f], CAPTION_SLOTS) for f in FEATURES}
named = {what: [100 * np.mean([r[k] == t[k] for r, t in zip(rows, truth)]) for k in range(4)]
         for what, rows in readings.items()}
print_table([(what, *[f"{x:.0f}" for x in v]) for what, v in named.items()],
            ["names the segment's ... (% of held-out segments)", "verb 1", "noun 1", "verb 2", "noun 2"])
recorded = all(experiments.is_arm_recipe(study, f"{FEWEST}, {f}", captioning_recipe(PROFILE, FEWEST, f))
               for f in FEATURES)
print(f"BLEU-4 of the two captioners: S3D {live['S3D']:.2f}, VideoBERT + S3D {live['VideoBERT + S3D']:.2f} "
      + (f"(the recorded seed 0: {bleu[FEWEST, 'S3D'][0]:.2f}, {bleu[FEWEST, 'VideoBERT + S3D'][0]:.2f})" if recorded
         else f"({PROFILE} profile: not the recorded runs)") + f"; {time.perf_counter() - t0:.0f} s")
reading, s3d_alone = named["VideoBERT's fill of the template (no caption)"], named[f"captioner on S3D, {FEWEST}"]
display(Markdown(f"**VideoBERT's reading against S3D's captioner with {sizes[FEWEST]} captions:** "
                 + ", ".join(f"{slot} {r - c:+.0f}" for slot, r, c in zip(("verb 1", "noun 1", "verb 2", "noun 2"),
                                                                         reading, s3d_alone))
                 + " points - " + ("it names no slot more often: nothing for the captioner to borrow"
                                   if max(r - c for r, c in zip(reading, s3d_alone)) <= 0 else
                                   "it names some slots more often: what a captioner could borrow")))

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# Example captions where the captions were scarcest, in the deck's layout (GT / VideoBERT / S3D): the two
# captioners above.

# %% tags=["hide-input", "nbval-ignore-output"]
for j in range(0, min(len(references), 24), 8):
    print(f"GT:        {references[j]}\nVideoBERT: {captions['VideoBERT + S3D'][j]}\n"
          f"S3D:       {captions['S3D'][j]}\n")

# %% [markdown] slideshow={"slide_type": "slide"} tags=["appendix"]
# ## 3. Results
#
# Mean and range of the seeds; the paper's numbers are YouCook2's, with all of its captions.

# %% tags=["hide-input", "nbval-ignore-output"]
print_table([(sizes[b], *[experiments.summarise(bleu[b, f]) for f in CAPTION_FEATURES], f"{gains[b]['mean']:+.2f}")
             for b in BUDGETS], ["captioned segments", "BLEU-4, S3D", "BLEU-4, VideoBERT + S3D", "difference"])
print("the paper (YouCook2): S3D 3.24, VideoBERT + S3D 4.33 (+1.09)")
for b in BUDGETS:
    record(NB, f"captioning BLEU-4 gain of VideoBERT + S3D, {sizes[b]} captioned segments", round(gains[b]["mean"], 2),
           1.09, note=f"mean of {len(study['seeds'])} seeds, results/videobert_captioning.json; paper: YouCook2, "
           "4.33 - 3.24")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Take-aways
#
# - VideoBERT's features are a function of S3D's: they add a reading (verb and noun guesses), no new facts.
# - Whether that reading helps needs seeds (the verdicts) and a control: what it names against what 60 captions teach.
# - A difference of about one BLEU point needs several seeds; the paper reports one number.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Questions to ask the room
#
# 1. The paper trained its captioner on YouCook2 only. Which ratio of captioned to narrated video does
#    that make, and which point of our curve is closest to it?
# 2. VideoBERT's features are a function of the visual words, which are a function of the S3D features:
#    they contain nothing about a clip that S3D's do not. How can they still help a captioner?
# 3. Here the steps of a video are drawn independently, so knowing one step says nothing about the
#    next. In real recipes it does. Which of VideoBERT's features could use that, and would you expect
#    the gain to grow or shrink?

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### More questions
#
# 4. Each point has three seeds. How many would you need to call a difference of one BLEU point real?
