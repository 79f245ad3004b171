"""Hierarchical k-means: how VideoBERT turns continuous clip features into visual words.

VideoBERT (Sun et al., ICCV 2019, Section 3.2) cuts a video into 1.5 s clips, describes
each clip by a 1024-d S3D feature, and quantises the features with *hierarchical*
k-means: k-means with k clusters on all features, then k-means with k clusters again
inside every cluster, ``depth`` times. With the paper's d = 4 levels of k = 12 the tree
has 12^4 = 20,736 leaves - the visual vocabulary whose rows are appended to BERT's word
embeddings (``minimodels.bert.extend_vocab``).

A clip's word is found by **descending the tree**: at each level, the nearest of the
current node's (at most k) children. That is not always the nearest of all 20,736 leaf
centroids (a flat search), and it is much cheaper: d * k distances instead of k^d.

Numbering. A node is its path of child indices from the root, ``(c_1, ..., c_l)`` with
every ``c_i`` in ``[0, k)``; its id at level ``l`` is that path read as a base-k number,
``c_1 k^(l-1) + ... + c_l``. The children of node ``p`` at level ``l`` are nodes
``p * k + j`` at level ``l + 1``, and a leaf id (level ``depth``) lies in ``[0, k**depth)``.
``path(leaf_ids)`` returns the digits.

Small branches. A node holding n training points with fewer than k *distinct* points
cannot be split k ways. It gets ``m = number of distinct points`` children (one per
distinct point, in the order of first appearance), and children ``m .. k-1`` do not
exist: ``node_exists(level)`` is False for them, ``predict`` never descends into them,
and everything below them is absent too. So every leaf ``predict`` can return has a
real centroid (the mean of the training points that reached it, once Lloyd has converged). ``centroids`` (and
``node_centroids``) still has a row for *every* id, so it can initialise a full
embedding table: an absent node carries its parent's centroid (so an absent leaf
carries the centroid of its nearest existing ancestor).

Algorithm at every node: greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with
``2 + log k`` candidate centres per step, as scikit-learn does), then Lloyd iterations
until the labels stop changing, the centres move less than ``tol`` (relative to the
node's data variance, as scikit-learn's ``tol``) or ``iters`` is reached - but not while a
cluster is empty: it is re-seeded with the point farthest from its centre (distinct
points for distinct clusters) and Lloyd goes on. So a node with at least k distinct
points gets k children (only a centre still empty after ``iters`` updates is dropped).
Everything runs in torch with one seeded ``torch.Generator``, so ``fit`` is deterministic
given ``seed``.

Distances. Squared distances come from the expansion |x|^2 - 2 x.c + |c|^2 (one matrix
product), except where the points lie more than 100x their spread from the origin (as
in a deep, tight branch), or two centres lie closer together than 1/100 of their distance
from the origin: there the expansion's terms cancel into rounding noise, and the exact sum
of (x_j - c_j)^2 is used (``_sq_dist``). Which one ``predict`` uses at a node depends on
its children's centroids alone, so ``fit`` and ``predict`` send every point down the same
branch.

Bad input is refused with errors that say what came: features that are not a float
(N, D) tensor, rows with NaN or infinite values (their indices), values so large that
squared distances overflow, and a tree whose tables (one centroid per node, k^depth
leaves) cannot fit in the machine's memory - said before anything is allocated.
"""

from __future__ import annotations

import math

import torch

from .flops import check_fits


class HierarchicalKMeans:
    """k-means applied recursively: ``depth`` levels of ``k`` clusters -> ``k ** depth`` leaves.

    >>> hkm = HierarchicalKMeans(depth=4, k=12)   # the paper's tree
    >>> hkm.vocab_size
    20736

    ``fit(X)`` with ``X`` a float tensor (N, D); ``predict(X)`` -> leaf ids (N,) int64 in
    ``[0, vocab_size)``; ``centroids`` -> (vocab_size, D), one row per leaf id (see the
    module docstring for branches too small to split). For drawing the tree:
    ``tree``, ``node_centroids(level)``, ``node_counts(level)``, ``node_exists(level)``,
    ``predict_path(X)`` and ``path(leaf_ids)``. Work happens on the CPU (features on
    another device are copied there); results are CPU tensors.
    """

    def __init__(self, depth: int, k: int, seed: int = 0, iters: int = 100, tol: float = 1e-4):
        for name, value, low in (("depth", depth, 1), ("k", k, 2), ("iters", iters, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"HierarchicalKMeans: {name} must be an int >= {low}, got {value!r}")
        if not (isinstance(tol, (int, float)) and tol >= 0):
            raise ValueError(f"HierarchicalKMeans: tol must be a number >= 0, got {tol!r}")
        self.depth, self.k, self.seed, self.iters, self.tol = depth, k, seed, iters, float(tol)
        self._levels: list[dict[str, torch.Tensor]] | None = None  # per level 1..depth
        self.root_centroid: torch.Tensor | None = None
        self.inertia_: float | None = None  # sum of squared distances of X to its leaf centroid

    @property
    def vocab_size(self) -> int:
        """Number of leaves, ``k ** depth`` (the paper: 12^4 = 20,736 visual words)."""
        return self.k**self.depth

    @property
    def num_features(self) -> int:
        self._check_fitted()
        return int(self.root_centroid.shape[0])

    # ------------------------------------------------------------------ fitting

    def fit(self, X: torch.Tensor) -> "HierarchicalKMeans":
        """Build the tree on features ``X`` (N, D) float. Returns self."""
        X = self._check_features(X, fitting=True)
        N, D = X.shape
        gen = torch.Generator().manual_seed(self.seed)
        self.root_centroid = X.mean(dim=0)
        node_of = torch.zeros(N, dtype=torch.long)  # each point's node id at the current level
        parent_centroids = self.root_centroid[None]  # (1, D): level 0 has one node
        self._levels = []
        for level in range(1, self.depth + 1):
            n_nodes = self.k**level
            centroids = parent_centroids.repeat_interleave(self.k, dim=0).clone()  # absent -> parent's
            exists = torch.zeros(n_nodes, dtype=torch.bool)
            counts = torch.zeros(n_nodes, dtype=torch.long)
            child_of = torch.empty(N, dtype=torch.long)
            order = torch.argsort(node_of, stable=True)
            parents, sizes = torch.unique_consecutive(node_of[order], return_counts=True)
            start = 0
            for parent, size in zip(parents.tolist(), sizes.tolist()):
                idx = order[start : start + size]
                start += size
                centres, labels = _kmeans(X[idx], self.k, self.iters, self.tol, gen)
                m = centres.shape[0]
                ids = parent * self.k + torch.arange(m)
                centroids[ids] = centres
                exists[ids] = True
                counts[ids] = torch.bincount(labels, minlength=m)
                child_of[idx] = parent * self.k + labels
            self._levels.append(dict(centroids=centroids, exists=exists, counts=counts))
            node_of, parent_centroids = child_of, centroids
        leaf_centroids = self._levels[-1]["centroids"]
        self.inertia_ = float(((X - leaf_centroids[node_of]) ** 2).sum())
        return self

    # ------------------------------------------------------------------ assignment

    def predict_path(self, X: torch.Tensor) -> torch.Tensor:
        """Node ids of every level on the way down, (N, depth) int64; column ``l - 1`` is the
        node at level ``l``, the last column the leaf id."""
        self._check_fitted()
        X = self._check_features(X)
        N = X.shape[0]
        out = torch.empty(N, self.depth, dtype=torch.long)
        node_of = torch.zeros(N, dtype=torch.long)
        for level, tables in enumerate(self._levels):
            centroids, exists = tables["centroids"].to(X.dtype), tables["exists"]
            order = torch.argsort(node_of, stable=True)
            parents, sizes = torch.unique_consecutive(node_of[order], return_counts=True)
            child_of = torch.empty(N, dtype=torch.long)
            start = 0
            for parent, size in zip(parents.tolist(), sizes.tolist()):
                idx = order[start : start + size]
                start += size
                ids = parent * self.k + torch.arange(self.k)
                ids = ids[exists[ids]]  # only the children this node really has
                child_of[idx] = ids[_nearest(X[idx], centroids[ids])]
            node_of = child_of
            out[:, level] = node_of
        return out

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Leaf ids (N,) int64 in ``[0, k ** depth)``, by descending the tree from the root."""
        return self.predict_path(X)[:, -1]

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.predict(X)

    # ------------------------------------------------------------------ the tree

    @property
    def centroids(self) -> torch.Tensor:
        """(k ** depth, D): row i is leaf i's centroid (an absent leaf: its nearest existing
        ancestor's). Initial values for the visual-word embeddings."""
        return self.node_centroids(self.depth)

    @property
    def tree(self) -> list[dict[str, torch.Tensor]]:
        """The whole tree for drawing: one dict per level 0..depth with ``centroids``
        (k^level, D), ``exists`` (k^level,) bool and ``counts`` (k^level,) int64. The parent of
        node ``i`` at level ``l`` is node ``i // k`` at level ``l - 1``."""
        return [dict(centroids=self.node_centroids(level), exists=self.node_exists(level),
                     counts=self.node_counts(level)) for level in range(self.depth + 1)]

    def node_centroids(self, level: int) -> torch.Tensor:
        """(k ** level, D) centroids of the nodes at ``level`` (1..depth); level 0 is the root,
        (1, D), the mean of all training features. Absent nodes carry their parent's centroid."""
        self._check_fitted()
        if level == 0:
            return self.root_centroid[None].clone()
        return self._level(level)["centroids"].clone()

    def node_exists(self, level: int) -> torch.Tensor:
        """(k ** level,) bool: which nodes at ``level`` exist (False below a branch that had
        fewer distinct points than k)."""
        self._check_fitted()
        return torch.ones(1, dtype=torch.bool) if level == 0 else self._level(level)["exists"].clone()

    def node_counts(self, level: int) -> torch.Tensor:
        """(k ** level,) int64: how many training points reached each node at ``level``."""
        self._check_fitted()
        if level == 0:
            return self._levels[0]["counts"].sum().view(1)
        return self._level(level)["counts"].clone()

    def path(self, leaf_ids: torch.Tensor) -> torch.Tensor:
        """The base-k digits (c_1, ..., c_depth) of leaf ids: (..., depth) int64."""
        leaf_ids = torch.as_tensor(leaf_ids)
        if leaf_ids.is_floating_point() or leaf_ids.is_complex():
            raise ValueError(f"path expects integer leaf ids, got dtype {leaf_ids.dtype}")
        if leaf_ids.numel() and (leaf_ids.min() < 0 or leaf_ids.max() >= self.vocab_size):
            raise ValueError(
                f"leaf ids must lie in [0, {self.vocab_size}), got min {int(leaf_ids.min())}, "
                f"max {int(leaf_ids.max())}"
            )
        powers = self.k ** torch.arange(self.depth - 1, -1, -1)
        return (leaf_ids.long()[..., None] // powers) % self.k

    def __repr__(self) -> str:
        state = "fitted" if self._levels is not None else "not fitted"
        return f"HierarchicalKMeans(depth={self.depth}, k={self.k}, vocab_size={self.vocab_size}, {state})"

    # ------------------------------------------------------------------ checks

    def _level(self, level: int) -> dict[str, torch.Tensor]:
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= self.depth:
            raise ValueError(f"level must be an int in [0, {self.depth}] (0 = the root), got {level!r}")
        return self._levels[level - 1]

    def _check_fitted(self) -> None:
        if self._levels is None:
            raise RuntimeError("HierarchicalKMeans is not fitted yet: call fit(X) first")

    def _check_features(self, X, fitting: bool = False) -> torch.Tensor:
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"HierarchicalKMeans expects a torch.Tensor (N, D), got {type(X).__name__}")
        if not X.is_floating_point():
            raise TypeError(f"HierarchicalKMeans expects floating-point features (e.g. float32), got dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"HierarchicalKMeans expects features of shape (N, D), got {tuple(X.shape)}")
        if fitting:
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(f"HierarchicalKMeans: cannot fit on an empty array of shape {tuple(X.shape)}")
            check_fits(self._table_bytes(X.shape[1], X.dtype), "cpu", lambda: (
                f"HierarchicalKMeans(depth={self.depth}, k={self.k}): the tables of {self.vocab_size:,} leaves "
                f"(k ** depth) and their ancestors, one {X.shape[1]}-d {X.dtype} centroid each"),
                f"{X.shape[0]:,} points fill at most {X.shape[0]:,} leaves: use a smaller depth or k")
        elif X.shape[1] != self.num_features:
            raise ValueError(
                f"HierarchicalKMeans was fitted on {self.num_features}-d features, got {X.shape[1]}-d "
                f"(shape {tuple(X.shape)})"
            )
        X = X.detach().cpu()
        finite = torch.isfinite(X).all(dim=1)
        limit = torch.finfo(X.dtype).max / 4  # |x - c|^2 <= 2 |x|^2 + 2 |c|^2 stays finite below it
        too_big = finite & ((_wide(X) ** 2).sum(1) > limit)
        for bad, what in ((~finite, "contain NaN or infinite values"),
                          (too_big, f"have a squared norm above {limit:.3g}, where squared distances overflow "
                                    f"{X.dtype}; rescale them")):
            if bool(bad.any()):
                rows = bad.nonzero().flatten().tolist()
                shown = ", ".join(map(str, rows[:10])) + (f", ... ({len(rows)} rows in all)" if len(rows) > 10 else "")
                raise ValueError(f"HierarchicalKMeans: features of row(s) {shown} of {tuple(X.shape)} {what}")
        return X

    def _table_bytes(self, num_features: int, dtype: torch.dtype) -> int:
        """Memory of the tree's tables: per node of levels 1..depth a centroid row, a count
        (int64) and an exists flag (bool)."""
        nodes = sum(self.k**level for level in range(1, self.depth + 1))
        return nodes * (num_features * torch.finfo(dtype).bits // 8 + 9)


# ---------------------------------------------------------------------- flat k-means


_FAR = 1e4  # |x|^2 above 1e4 x the spread^2: the expanded distance would keep only ~3 of float32's 7 digits


def _wide(P: torch.Tensor) -> torch.Tensor:
    """``P`` in float32 at least (half-precision features: cdist and pdist have no kernels)."""
    return P if P.dtype in (torch.float32, torch.float64) else P.float()


def _far_from_origin(P: torch.Tensor) -> bool:
    """True when the rows of ``P`` lie far from the origin compared with their spread:
    max |p|^2 > ``_FAR`` x mean |p - mean(p)|^2 (a deep, tight branch of the tree)."""
    P = _wide(P)
    return bool((P * P).sum(1).max() > _FAR * ((P - P.mean(0)) ** 2).sum(1).mean())


def _sq_dist(X: torch.Tensor, C: torch.Tensor, exact: bool) -> torch.Tensor:
    """Squared Euclidean distances (N, M).

    The expanded form |x|^2 - 2 x.c + |c|^2 (one matrix product; clamped at 0, as it can go
    slightly negative) cancels catastrophically for points far from the origin compared
    with their spread: all 64 coordinates near 100 with a spread of 0.01 give |x|^2 ~ 6e5,
    known to ~0.06 in float32, against squared distances ~0.01 - rounding noise, and
    k-means++ would see every point on a centre. ``exact=True`` takes sum_j (x_j - c_j)^2
    instead: 0 for equal points, positive for distinct ones, about 2x slower.
    """
    if exact:
        return torch.cdist(_wide(X), _wide(C), compute_mode="donot_use_mm_for_euclid_dist") ** 2
    d = (X * X).sum(1, keepdim=True) - 2 * X @ C.T + (C * C).sum(1)
    return d.clamp_min_(0)


def _nearest(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``C`` for every row of ``X``. Exact distances when two
    centres lie close together compared with their distance from the origin (max |c|^2 >
    ``_FAR`` x the smallest squared distance between two centres), where the expanded form
    could not tell them apart; a rule on ``C`` alone, so ``fit`` and ``predict`` decide alike."""
    W = _wide(C)
    close = len(C) > 1 and bool((W * W).sum(1).max() > _FAR * torch.pdist(W).min() ** 2)
    return _sq_dist(X, C, close).argmin(dim=1)


def _distinct_rows(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(first, label): the index of the first occurrence of every distinct row of X, in order
    of appearance, and for every row the number of its distinct row in that order."""
    _, inverse = torch.unique(X, dim=0, return_inverse=True)
    m = int(inverse.max()) + 1
    first = torch.full((m,), X.shape[0], dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(X.shape[0]), reduce="amin"
    )
    order = torch.argsort(first)
    rank = torch.empty(m, dtype=torch.long)
    rank[order] = torch.arange(m)
    return first[order], rank[inverse]


def _kmeans_pp(X: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding: each new centre is the best (lowest potential) of
    ``2 + log k`` candidates drawn with probability proportional to D(x)^2. Distances are
    exact when the points sit far from the origin compared with their spread."""
    N = X.shape[0]
    trials = 2 + int(math.log(k))
    exact = _far_from_origin(X)
    centres = [X[torch.randint(N, (1,), generator=gen)].squeeze(0)]
    closest = _sq_dist(X, centres[0][None], exact).squeeze(1)
    for _ in range(1, k):
        if closest.sum() <= 0 and not exact:  # rounding hid the distinct points left: measure exactly
            exact = True
            closest = _sq_dist(X, torch.stack(centres), exact).min(1).values
        if closest.sum() <= 0:  # every point sits on a centre: not with more than k distinct points
            break
        candidates = torch.multinomial(closest, trials, replacement=True, generator=gen)
        d = torch.minimum(closest[None], _sq_dist(X, X[candidates], exact).T)  # (trials, N)
        best = int(d.sum(1).argmin())
        centres.append(X[candidates[best]])
        closest = d[best]
    return torch.stack(centres)


def _kmeans(X: torch.Tensor, k: int, iters: int, tol: float, gen: torch.Generator):
    """Flat k-means of (n, D) points into k clusters.

    Returns (centres (m, D), labels (n,)). m = k, unless the points have fewer than k
    distinct values: then every distinct point is its own cluster (m = that number).
    Stops at a fixed point (no label changes), after ``iters`` updates, or when the centres
    move less than ``tol`` times the points' mean per-feature variance (scikit-learn's tol;
    relative to *this node's* points, so deep, tight branches converge as fully as the root)
    - but not while a cluster is empty: an empty cluster is re-seeded with a point far from
    its centre (distinct points for distinct clusters) and Lloyd goes on, so with more than k
    distinct points every one of the k clusters ends with points (unless ``iters`` runs out).
    """
    first, first_labels = _distinct_rows(X)
    if first.shape[0] <= k:  # one cluster per distinct point, numbered by first appearance
        return X[first].clone(), first_labels
    tol = tol * X.var(dim=0, unbiased=False).mean().item()
    centres = _kmeans_pp(X, k, gen)
    m = centres.shape[0]  # k (fewer only if squared distances underflow, points ~1e-19 apart)
    labels = _nearest(X, centres)
    counts = torch.bincount(labels, minlength=m)
    for _ in range(iters):
        new = torch.zeros_like(centres).index_add_(0, labels, X) / counts.clamp_min(1)[:, None].to(X.dtype)
        empty = (counts == 0).nonzero().flatten()
        if len(empty):  # re-seed empty clusters with distinct points, the farthest from their centres first
            far = ((X - centres[labels]) ** 2).sum(1).argsort(descending=True)
            new[empty] = X[far[_distinct_rows(X[far])[0][: len(empty)]]]
        shift = ((new - centres) ** 2).sum().item()
        centres, old = new, labels
        labels = _nearest(X, centres)
        counts = torch.bincount(labels, minlength=m)
        if (torch.equal(labels, old) or shift <= tol) and bool((counts > 0).all()):
            break  # labels unchanged: a fixed point, the centres are the means of their points
    # labels are always the nearest centre (the Voronoi cells of the centres kept), so a
    # child's points - and the mean of any subset of them - lie in its parent's cell
    keep = counts > 0
    if not bool(keep.all()):  # iters ran out with a centre owning no point: drop it, renumber the rest
        remap = torch.cumsum(keep.long(), 0) - 1
        return centres[keep], remap[labels]
    return centres, labels
