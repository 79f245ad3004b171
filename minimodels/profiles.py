"""Run profiles: how big a run the notebooks and the training command make.

``smoke``  CI: seconds per run, only checks that everything is wired.
``cpu``    a laptop: a few minutes per notebook, and the models really learn.
``gpu``    one modern GPU: bigger inputs, models and schedules, ~10 min per notebook.

The profile comes from the ``MINIMODELS_PROFILE`` environment variable; without it,
``gpu`` where CUDA is available, else ``cpu``. Deterministic notebook cells (shapes,
parameter and FLOP counts, tables against the paper) never depend on it.
"""

from __future__ import annotations

import os

PROFILES = ("smoke", "cpu", "gpu")
ENV_VAR = "MINIMODELS_PROFILE"


def current() -> str:
    """The active profile name."""
    name = os.environ.get(ENV_VAR, "").strip().lower()
    if not name:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR} must be one of {PROFILES}, got {name!r}")
    return name


def pick(profile: str | None = None, **choices):
    """Return ``choices[profile]`` (the active profile by default).

    >>> pick(smoke=2, cpu=200, gpu=2000)  # doctest: +SKIP
    """
    profile = profile or current()
    missing = [p for p in PROFILES if p not in choices]
    if missing:
        raise ValueError(f"pick() needs a value for every profile {PROFILES}; missing {missing}")
    unknown = sorted(set(choices) - set(PROFILES))
    if unknown:
        raise ValueError(f"pick() got unknown profile names {unknown}; expected {PROFILES}")
    return choices[profile]


def device() -> "torch.device":  # noqa: F821
    """The device the active profile trains on: CUDA when there is one, else CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
