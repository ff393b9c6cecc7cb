"""Small shared helpers: seeding and device selection (the one place randomness and devices are set
up), and :func:`spread`, the even choice of a few items from a sorted list."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from diffad_lib._validation import check_int

T = TypeVar("T")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (legacy global state some libraries still read)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` picks CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def module_device(module: torch.nn.Module) -> torch.device:
    """Where ``module`` lives: the device of its first parameter, or of its first buffer when it has no
    parameters (e.g. :class:`~diffad_lib.models.empirical.EmpiricalDenoiser`); CPU when it has neither."""
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        return tensor.device
    return torch.device("cpu")


def spread(items: Sequence[T], n: int | None) -> list[T]:
    """At most ``n`` items evenly spaced over ``items``, first and last included, in their order.

    Item ``round(i * (len(items) - 1) / (n - 1))`` for ``i = 0 .. n - 1`` (NumPy rounding, half
    to even); every item when ``n`` is None or ``n >= len(items)``. Used to pick a few series or
    images from a sorted list of names so that a shorter run still covers the whole list.

    Parameters
    ----------
    items : sequence
        The items to choose from, usually sorted.
    n : int or None
        How many to keep (>= 1); None keeps all.

    Returns
    -------
    list
        The chosen items (a new list), without repeats.

    Raises
    ------
    TypeError
        ``n`` is neither None nor an integer.
    ValueError
        ``n`` < 1.
    """
    items = list(items)
    if n is None or check_int(n, name="n", minimum=1) >= len(items):
        return items
    idx = np.round(np.linspace(0, len(items) - 1, n)).astype(int)  # distinct: the step exceeds 1
    return [items[i] for i in idx]
