# %% [markdown] slideshow={"slide_type": "slide"}
# # VideoBERT I: from video to visual words
#
# Sun, Myers, Vondrick, Murphy, Schmid. *VideoBERT: A Joint Model for Video and Language
# Representation Learning.* ICCV 2019 ([arXiv 1904.01766](https://arxiv.org/abs/1904.01766)). No
# official code was released.
#
# **What the paper claims**
#
# - BERT's recipe - mask some tokens, predict them from the rest - can learn the relation between
#   *what is seen* and *what is said*, from cooking videos and their speech, without labels.
# - For that, video must become **tokens from a vocabulary**: every 1.5 s clip is described by an S3D
#   feature, and hierarchical k-means turns the feature into one of 12^4 = 20,736 *visual words*.
# - Narration is noisy: speakers talk about things that are not visible, and speech and picture are not
#   at the same moment. Two augmentations make the model tolerant of it (notebooks 06-07).
#
# **What you will see** (notebook 1 of 5; pre-training and evaluation are notebook 06, the ablations notebooks 07-09):
#
# 1. why masked modelling needs discrete video tokens;
# 2. the narrated how-to world: steps, narration, and its misalignment;
# 3. frames to clips, with the paper's numbers and ours;
# 4. the clip network: S3D's separable convolution, traced; trained on labels other than the verbs and nouns;
# 5. hierarchical k-means: the tree, descending it, and what each visual word looks like;
# 6. the input format `[CLS] text [>] video [SEP]`;
# 7. a results table and questions for the journal club.
#
# Korean terms of the seed deck (벡터 양자화, 계층적 K-means, ...): see the [glossary](GLOSSARY.md).

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The deck's VideoBERT half has three beats: why quantise (Vector Quantization
# slide), the misalignment problem and its two fixes, then the zero-shot and captioning results. This
# notebook covers the first beat and sets up the data for the other two (notebooks 06-08).

# %% slideshow={"slide_type": "skip"}
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.cluster import KMeans

from minimodels import profiles, report
from minimodels.bert import variant_config as bert_config
from minimodels.data.howto import NOUNS, VERBS, clips, make_howto_videos, make_vocab, narration_stats
from minimodels.data.video import resample_indices, windows
from minimodels.kmeans import HierarchicalKMeans
from minimodels.layers import count_params
from minimodels.recipes.videobert import (
    AUGMENTATION_WORLDS,
    clip_features,
    fit_visual_words,
    howto_data,
    EXEMPLARS,
    GLYPH_WEIGHT,
    labelled_clips,
    make_s3d,
    motion_accuracy,
    motion_clips,
    tokenize_videos,
    trained_s3d,
    videobert_recipe,
    word_labels,
    word_purity,
)
from minimodels.data.motion import MOTION_CLASSES, NUM_MOTION_CLASSES
from minimodels.report import CACHE_DIR, print_table, record, show_source
from minimodels.s3d import S3D, SepConv3d
from minimodels.schematics import videobert_schematic
from minimodels.videobert import build_inputs, segments_from_video

NB = "05_videobert_visual_words"
show = report.figure_saver(NB)
torch.manual_seed(0)
np.random.seed(0)

# %% slideshow={"slide_type": "skip"} tags=["nbval-ignore-output"]
PROFILE = profiles.current()
RECIPE = videobert_recipe(PROFILE)
print(f"profile: {PROFILE}   torch {torch.__version__}   threads: {torch.get_num_threads()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Why masked modelling needs discrete video tokens
#
# BERT's masked language model ends in a **softmax over its vocabulary**: at a masked position it
# scores every word and is trained with cross-entropy against the word that was there. That needs a
# finite set of things that can be there. Words are such a set; video is not - a clip is a point in
# a continuous space (the deck: "비디오는 Mask로 가린 뒤 해당 위치에 적절한 영상을 찾는 작업이
# 어려움", finding the right video for a masked position is hard).
#
# VideoBERT's answer is **vector quantisation**: give every clip the id of its nearest cluster
# centre, a *visual word*. Then video is a sentence of visual words, the vocabulary is text words +
# visual words, and the same masked-token loss trains on both.

# %% slideshow={"slide_type": "fragment"} tags=["hide-input"]
vocab = make_vocab()
K_paper = 12**4
CPU = videobert_recipe("cpu")  # the sizes quoted as "here" are the cpu profile's, under every profile
print(f"text vocabulary here: {len(vocab)} tokens (special tokens + words); BERT's WordPiece: 30,522")
print(f"visual words, paper (d = 4, k = 12): 12^4 = {K_paper:,}; here (d = {CPU.kmeans_depth}, k = {CPU.kmeans_k}): "
      f"{CPU.kmeans_k}^{CPU.kmeans_depth} = {CPU.num_visual_words}")
print(f"one softmax over both: {len(vocab)} + {CPU.num_visual_words} = {len(vocab) + CPU.num_visual_words} "
      f"outputs (the paper: 30,522 + 20,736 = {30522 + K_paper:,})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### VideoBERT's pipeline, with the paper's numbers
#
# From frames to visual words, then one BERT over text and video, trained by masked tokens and alignment.

# %% tags=["hide-input"]
show(videobert_schematic(), "pipeline_paper")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The narrated how-to world
#
# YouCook2-style videos, built from DigitWorld: each video is a sequence of **steps**, each step an
# **action (verb)** on an **object (noun)** - the object is a handwritten digit, named by its class. A
# step lasts 2-4 clips; its motion runs once over the step.

# %% slideshow={"slide_type": "fragment"} tags=["hide-input"]
print("verbs:", ", ".join(VERBS))
print("nouns:", ", ".join(NOUNS))
demo = make_howto_videos(1, seed=7, **CPU.howto)[0]  # the same demo under every profile
print(f"one video: frames {tuple(demo.frames.shape)} (C, T, H, W) at {demo.fps:g} fps = {demo.duration:g} s, "
      f"{demo.num_clips} clips of {demo.clip_frames} frames")
for (a, b, sentence) in demo.step_segments():
    print(f"  step {a:5.1f}-{b:5.1f} s: {sentence}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One how-to video, step by step

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(demo.steps), 8, figsize=(10, 1.4 * len(demo.steps)))
for row, (verb, noun, a, b) in enumerate(demo.steps):
    for col, t in enumerate(np.linspace(a, b - 1, 8).round().astype(int)):
        ax = axes[row, col]
        ax.imshow(demo.frames[:, t].permute(1, 2, 0).numpy())
        ax.set_xticks([]), ax.set_yticks([])
        if col == 0:
            ax.set_ylabel(f"{VERBS[verb]}\nthe {NOUNS[noun]}", fontsize=8)
fig.suptitle("one how-to video, 8 frames per step (time runs left to right)", fontsize=10)
fig.tight_layout()
show(fig, "howto_video")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The narration against the steps
#
# The **narration** is what an ASR system would give: sentences with start and end times. It is not
# the annotation: every sentence is shifted by its own offset (up to 2 s here), fillers and remarks
# are mixed in, and some sentences are about nothing visible - the two problems the deck lists
# (화자가 시각적으로 나타나지 않는 것을 언급; 영상과 Text가 같은 시점에 나타나지 않음).

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(10, 2.2))
for i, (a, b, sentence) in enumerate(demo.step_segments()):
    ax.barh(1, b - a, left=a, color=f"C{i}", alpha=0.6)
    ax.text((a + b) / 2, 1, sentence, ha="center", va="center", fontsize=8)
for j, ((start, end, sentence), step) in enumerate(zip(demo.narration, demo.narration_steps)):
    colour = f"C{step}" if step is not None and step >= 0 else "grey"
    ax.barh(0 - 0.35 * (j % 2), end - start, left=start, height=0.3, color=colour, alpha=0.6)
for c in range(demo.num_clips + 1):
    ax.axvline(c * demo.clip_seconds, color="k", lw=0.3)
ax.set_yticks([1, -0.15], ["steps (annotation)", "narration (ASR)"])
ax.set_xlabel("seconds (thin lines: clip boundaries)")
ax.set_title("narration is shifted from its picture; grey: sentences about nothing visible", fontsize=10)
fig.tight_layout()
show(fig, "narration_timeline")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# The demo video's narration, sentence by sentence, with each sentence's shift:

# %% tags=["appendix"]
for (start, end, sentence), shift in zip(demo.narration, demo.narration_shifts):
    print(f"  {start:5.1f}-{end:5.1f} s  (shift {shift:+.1f} s)  {sentence}")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### How much of the narration is off: measured
#
# The paper's problems (seed claim V11: speakers mention things that are not visible; speech is not
# where its picture is), counted on the narration of this world's training videos, and of notebook 07's
# second world, where every sentence drifts by up to 6 s, about a step (and the pace varies between videos):

# %% tags=["hide-input"]
# the narration does not depend on the pixels (the same uniforms drive it), so 8x8 frames make this fast
world = {**CPU.howto, "size": 8}
drifting = {**world, **AUGMENTATION_WORLDS["misaligned, varied pace"]}
stats = {"this world (shifts up to 2 s)": narration_stats(make_howto_videos(CPU.n_train, **world)),
         "notebook 07's misaligned world": narration_stats(make_howto_videos(CPU.n_train, **drifting))}
report.print_table([(name, v["sentences"], f"{v['offtopic']:.0%}", f"{v['mean_abs_shift_s']:.1f} s",
                     f"{v['outside_step']:.0%}") for name, v in stats.items()],
                   ["narration of the training videos", "sentences", "about nothing visible", "mean shift",
                    "middle under another step"])
print(f'an off-topic sentence: "{stats["this world (shifts up to 2 s)"]["offtopic_example"]}"')

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same pipeline in this world
#
# Every box keeps its step; the numbers are this world's (the cpu profile's sizes, under every profile).

# %% tags=["hide-input"]
bert_size = bert_config(CPU.bert_variant, len(vocab), **CPU.bert_overrides)
show(videobert_schematic(levels=CPU.kmeans_depth, branching=CPU.kmeans_k, fps=demo.fps,
                         feature_dim=S3D.from_variant(CPU.s3d_variant, 0).feature_dim,
                         clip_frames=demo.clip_frames, text_vocab_size=len(vocab), text_tokens="word",
                         bert_layers=bert_size.depth, bert_hidden=bert_size.hidden_dim), "pipeline_here")

# %% [markdown] slideshow={"slide_type": "slide"} tags=["appendix"]
# ## 3. Frames to clips
#
# The deck's recipe: sample at 20 fps, cut non-overlapping 30-frame windows (1.5 s clips), describe
# each clip by S3D (1024-d), quantise. Ours keeps the steps and shrinks the numbers so that a laptop
# can run them:

# %% slideshow={"slide_type": "fragment"}
cl = clips(demo)
print_table([
    ("frame rate", "20 fps", f"{demo.fps:g} fps"),
    ("frames per clip", 30, demo.clip_frames),
    ("clip length", "1.5 s", f"{demo.clip_seconds:g} s"),
    ("frame size", "224 x 224", f"{demo.frames.shape[2]} x {demo.frames.shape[3]}"),
    ("clip feature", "S3D, 1024-d", f"S3D-style, {S3D.from_variant(CPU.s3d_variant, 0).feature_dim}-d"),
    ("visual words", "12^4 = 20,736", f"{CPU.kmeans_k}^{CPU.kmeans_depth} = {CPU.num_visual_words}"),
], ["", "paper", "here"])
print(f"\nclips of the demo video: {tuple(cl.shape)} (n_clips, C, T, H, W)")

# %% [markdown] slideshow={"slide_type": "fragment"} tags=["appendix"]
# The paper's sampling, step by step, on a 10 s video filmed at 30 fps (index arithmetic: which source
# frame becomes which clip frame), then what this world does instead:

# %% tags=["appendix"]
camera_fps, seconds = 30, 10
keep = resample_indices(camera_fps * seconds, camera_fps, 20)
paper_clips = windows(len(keep), 30)
print(f"{camera_fps * seconds} frames at {camera_fps} fps -> {len(keep)} frames at 20 fps "
      f"(source frames {', '.join(map(str, keep[:7].tolist()))}, ...: 2 of every 3 kept)")
for k in (0, 1, len(paper_clips) - 1):
    a, b = keep[paper_clips[k, 0]].item(), keep[paper_clips[k, -1]].item()
    print(f"  clip {k}: 30 frames, source frames {a}-{b}, {a / camera_fps:.1f}-{(b + 1) / camera_fps:.1f} s")
print(f"-> {len(paper_clips)} clips of 1.5 s; the last {len(keep) - paper_clips.numel()} frames "
      f"({(len(keep) - paper_clips.numel()) / 20:g} s) fill no window and are left out")
here = windows(demo.num_frames, demo.clip_frames)
assert len(here) == demo.num_clips
print(f"here: the demo's {demo.num_frames} frames are rendered at {demo.fps:g} fps from the start, so there "
      f"is nothing to resample: windows of {demo.clip_frames} frames give its {len(here)} clips of "
      f"{demo.clip_seconds:g} s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The clip network: S3D's separable convolution
#
# S3D (Xie et al. 2018) replaces each k x k x k 3D convolution by a spatial 1 x k x k one followed by
# a temporal k x 1 x 1 one: fewer parameters, and on Kinetics better accuracy than full 3D.

# %% slideshow={"slide_type": "fragment"} tags=["appendix"]
show_source(SepConv3d)

# %% slideshow={"slide_type": "subslide"} tags=["appendix"]
full = torch.nn.Conv3d(64, 64, 3, padding=1, bias=False)
sep = SepConv3d(64, 64, 3)
n_sep_conv = count_params(sep.conv_s) + count_params(sep.conv_t)
print(f"64 -> 64 channels, k = 3: full 3D kernel {count_params(full):,} weights, separable {n_sep_conv:,} "
      f"({n_sep_conv / count_params(full):.2f}x; 12 C^2 vs 27 C^2)")
s3d_demo = make_s3d(RECIPE).eval()
x = cl[:2] * 2 - 1
print(f"input clips            {tuple(x.shape)}")
h = x
for i, block in enumerate(s3d_demo.blocks):
    h = block(h)
    print(f"after SepConv3d {i}       {tuple(h.shape)}")
print(f"pooled features        {tuple(s3d_demo.features(x).shape)}   (the real S3D: 1024)")
print(f"logits ({NUM_MOTION_CLASSES} motion classes + {EXEMPLARS} glyphs) {tuple(s3d_demo(x).shape)};  "
      f"parameters: {count_params(s3d_demo):,}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Training it** the way S3D was trained: supervised, on labels that are *not* the ones zero-shot
# classification is scored on. The real S3D learned Kinetics' 400 action classes, none of them a
# YouCook2 verb or noun, starting from ImageNet-trained Inception. Here: first an image model that tells
# 200 glyphs of the digit pool apart, each its own class whatever digit it shows (exemplars: shape
# without a digit's name); then clips of the motion videos (notebook 04's world: ten classes of how a
# digit moves), with the moving digit's glyph as a second, lighter task. Not a verb, noun or digit name
# is ever read. Its features before the classifier are what gets quantised; the weights are cached in
# `runs/cache/`, so notebooks 06-09 reuse them.

# %% tags=["hide-input", "nbval-ignore-output"]
t0 = time.perf_counter()
s3d, s3d_hist = trained_s3d(RECIPE, cache_dir=CACHE_DIR / "videobert", log=print)
s3d_time = time.perf_counter() - t0
train_videos, test_videos = howto_data(RECIPE, "train"), howto_data(RECIPE, "test")
held_x, held_motion, _ = motion_clips(RECIPE, "test", profiles.pick(smoke=8, cpu=500, gpu=1000))
motion_acc = motion_accuracy(s3d, held_x, held_motion)
print(f"clip network ready in {s3d_time:.0f} s: {RECIPE.s3d_pretrain.steps} image steps on {EXEMPLARS} glyphs, "
      f"{RECIPE.s3d.steps} clip steps on the {NUM_MOTION_CLASSES} motion classes ({', '.join(MOTION_CLASSES[:3])}, "
      f"...) with the glyph loss at weight {GLYPH_WEIGHT}")
print(f"held-out motion clips (digits never seen), motion class top-1: {motion_acc:.3f} (chance {1 / NUM_MOTION_CLASSES:.2f})")
if PROFILE != "smoke":
    assert motion_acc > 0.5, motion_acc

# %% [markdown] slideshow={"slide_type": "fragment"} tags=["appendix"]
# `clip_labels="verb_noun"` trains the same network on this world's own verbs and nouns instead - the
# shortcut of a clip network that has seen the evaluation's labels. Notebook 06 measures what it is
# worth (`videobert_zero_shot`).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Hierarchical k-means: visual words
#
# The features of every training clip are clustered into k groups, each group again into k, d levels
# deep: a tree with up to k^d leaves. A clip's visual word is the leaf reached by **descending the tree**
# - at each level, the nearest of the k children of the current node - not the nearest of all leaves.
# Small groups cannot split into k (a node with fewer than k points gets fewer children).

# %% slideshow={"slide_type": "fragment"} tags=["appendix"]
show_source(HierarchicalKMeans.predict_path)

# %% tags=["hide-input", "nbval-ignore-output"]
t0 = time.perf_counter()
train_features, test_features = clip_features(s3d, train_videos), clip_features(s3d, test_videos)
kmeans = fit_visual_words(RECIPE, train_features)
train_tokens, test_tokens = tokenize_videos(kmeans, train_features), tokenize_videos(kmeans, test_features)
X = torch.cat(train_features)
print(f"{len(train_videos)} training videos -> {len(X)} clips -> features {tuple(X.shape)} -> "
      f"visual words in [0, {kmeans.vocab_size}) ({time.perf_counter() - t0:.1f} s)")
used = torch.cat(train_tokens).unique().numel()
print(f"words used by the training clips: {used} of {kmeans.vocab_size}")
for level in range(1, RECIPE.kmeans_depth + 1):
    print(f"level {level}: {int(kmeans.node_exists(level).sum())} nodes of {RECIPE.kmeans_k ** level} possible")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# **Descending the tree is not the same as the nearest leaf.** A point near the border of two
# top-level groups can end in a leaf of its own group although a leaf of the other is closer. And
# the first level alone is an ordinary k-means - the same clustering scikit-learn finds:

# %% tags=["nbval-ignore-output"]
leaf = kmeans.predict(X)
flat = torch.cdist(X, kmeans.centroids).argmin(1)
print(f"clips whose tree leaf differs from their nearest leaf: {(leaf != flat).float().mean():.1%}")
first = kmeans.predict_path(X)[:, 0]
sk = KMeans(RECIPE.kmeans_k, n_init=4, random_state=0).fit(X.numpy())
agree = np.mean([max(np.mean(sk.labels_[first.numpy() == c] == l) for l in range(RECIPE.kmeans_k))
                 for c in range(RECIPE.kmeans_k) if (first == c).any()])
print(f"level 1 vs scikit-learn KMeans: mean purity of our groups in sklearn's labels {agree:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What the words mean.** Nobody told k-means or the clip network about verbs and nouns. Yet a verb
# is a way of moving and a noun a digit's shape, which the motion and glyph tasks do see. How pure is
# each word - if you had to name the verb (noun) of a clip from its word alone, using the training
# clips' majority?

# %% tags=["hide-input", "nbval-ignore-output"]
tok = torch.cat(train_tokens)
_, clip_v, _ = labelled_clips(train_videos)
K = kmeans.vocab_size
named = word_labels(train_videos, train_tokens, K)  # each word's majority verb and noun
purity = word_purity(train_videos, train_tokens, test_videos, test_tokens, K)
word_verb, word_noun = purity["verb"], purity["noun"]
print(f"held-out clips named from their visual word alone: verb {word_verb:.3f}, noun {word_noun:.3f} "
      f"(chance {1 / len(VERBS):.2f} / {1 / len(NOUNS):.2f})")
group = tok // (K // RECIPE.kmeans_k)  # a leaf's first-level group: the leaves of a group are contiguous
by_group = torch.zeros(RECIPE.kmeans_k, len(VERBS)).index_put_((group, clip_v), torch.ones(len(tok)), accumulate=True)
first_level_verbs = [VERBS[int(i)] for i in by_group.argmax(1)]
print("majority verb of each first-level group:", ", ".join(first_level_verbs))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What the most frequent visual words look like

# %% tags=["hide-input"]
# the clips nearest the centroids of the most frequent words: middle frame of each
counts = torch.bincount(tok, minlength=K)
words = counts.argsort(descending=True)[:8].tolist()
all_clips = torch.cat([clips(v) for v in train_videos])
fig, axes = plt.subplots(len(words), 6, figsize=(7, 1.2 * len(words)))
for r, w in enumerate(words):
    d = torch.cdist(kmeans.centroids[w : w + 1], X)[0]
    d[tok != w] = float("inf")
    nearest = d.argsort()[:6].tolist()
    for c, i in enumerate(nearest):
        ax = axes[r, c]
        ax.imshow(all_clips[i][:, all_clips.shape[2] // 2].permute(1, 2, 0).numpy())
        ax.set_xticks([]), ax.set_yticks([])
        if c == 0:
            ax.set_ylabel(f"v{w}\n{VERBS[int(named['verb'][w])]}\n{NOUNS[int(named['noun'][w])]}", fontsize=7)
fig.suptitle("visual words: the 6 clips nearest each centroid (middle frames), with the majority verb/noun",
             fontsize=9)
fig.tight_layout()
show(fig, "visual_words")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The input format
#
# A sentence and the visual words under its ASR time span form one example, **text first**, joined
# by the special token `[>]`, with segment (token type) 0 for text and 1 for video:
#
# `[CLS] orange chicken with [MASK] sauce [>] v01 [MASK] v08 v72 [SEP]` (the paper's example)

# %% slideshow={"slide_type": "fragment"} tags=["hide-input", "nbval-ignore-output"]
demo_features = clip_features(s3d, [demo])
demo_tokens = tokenize_videos(kmeans, demo_features)[0]
segments = segments_from_video(demo.narration, demo_tokens, demo.clip_seconds, vocab)
text_ids, video_ids = segments[0]
inp = build_inputs(text_ids, video_ids, vocab, num_visual_words=kmeans.vocab_size)
V = len(vocab)
names = [vocab.itos[i] if i < V else f"v{i - V}" for i in inp.input_ids[0].tolist()]
print(f"narration: {demo.narration[0][2]!r} ({demo.narration[0][0]:.1f}-{demo.narration[0][1]:.1f} s)")
print("tokens:     ", " ".join(names))
print("token types:", " ".join(str(t) for t in inp.token_type_ids[0].tolist()))
print(f"ids: {inp.input_ids[0].tolist()}  (visual word v has id {V} + v)")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# **How often is a sentence's video really its step?** With the shifts of the narration, the clips
# under a sentence's span are partly from the neighbouring step - the alignment noise VideoBERT trains
# through (notebook 07 measures what the two augmentations do about it).

# %% tags=["nbval-ignore-output"]
hits = total = 0
for v, t in zip(train_videos, train_tokens):
    clip_step = torch.repeat_interleave(torch.arange(len(v.steps)),
                                        torch.tensor([(b - a) // v.clip_frames for _, _, a, b in v.steps]))
    centres = (torch.arange(v.num_clips) + 0.5) * v.clip_seconds
    for (start, end, _), step in zip(v.narration, v.narration_steps):
        if step is None or step < 0:
            continue
        inside = (centres >= start) & (centres < end)
        hits += int((clip_step[inside] == step).sum())
        total += int(inside.sum())
aligned = hits / max(total, 1)
print(f"clips under on-topic sentences that belong to the sentence's step: {aligned:.1%}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Results
#
# What this notebook measured, next to the paper where the paper has a number. The paper's own figures
# are quoted as literals; ours are computed above.

# %% tags=["hide-input", "nbval-ignore-output"]
rows = [
    ("visual vocabulary", "12^4 = 20,736", f"{kmeans.vocab_size} ({used} used)"),
    ("clip features", "S3D, 1024-d", f"{s3d.feature_dim}-d"),
    ("clip network's own task: held-out top-1 (%)", "S3D: Kinetics-400 classes",
     f"{100 * motion_acc:.1f} ({NUM_MOTION_CLASSES} motion classes)"),
    ("held-out clips named by their word: verb / noun (%)", "-", f"{100 * word_verb:.1f} / {100 * word_noun:.1f}"),
    ("clips under a sentence from its own step", "-", f"{aligned:.1%}"),
]
print_table(rows, ["", "paper", "ours"])
record(NB, "visual words used", used, 20736, note=f"of {kmeans.vocab_size}")
record(NB, "visual-word purity: verb", round(100 * word_verb, 1), None, unit="%", note="held-out clips named by their word")
record(NB, "visual-word purity: noun", round(100 * word_noun, 1), None, unit="%", note="held-out clips named by their word")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The clip network never saw a verb or noun, so a visual word names one only as far as motion and glyph
# shape carry it - the purity row. Zero-shot classification (notebook 06) has to get the rest from the
# narration: which words are said while which visual words are seen.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Take-aways
#
# - Masked modelling needs a vocabulary: each clip's feature becomes one of k^d visual words.
# - A clip's word is the leaf reached by descending the k-means tree - not always the nearest leaf.
# - Text and video become one sequence, `[CLS] text [>] video [SEP]`, for one BERT.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Questions to ask the room
#
# 1. The paper uses 20,736 visual words for about 1.3 M clips of training video. What goes wrong if
#    the vocabulary is much larger than the data? Much smaller?
# 2. The clip features come from a network trained *with labels* on Kinetics. How "self-supervised"
#    is VideoBERT, then?
# 3. Why descend a tree instead of a flat k-means with 20,736 centres? (Cost of assignment, and of
#    fitting.) What does the tree lose?

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### More questions
#
# 4. CBT (Sun et al. 2019) dropped the quantisation and used a contrastive loss on the continuous
#    features. Which detail of a clip is lost when it becomes one of 20,736 words?
