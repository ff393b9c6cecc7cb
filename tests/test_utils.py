"""diffad_lib.utils.spread: the even choice of a few items, identical to the two helpers it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from diffad_lib.utils import spread


def _images_spread(items: list, limit: int | None) -> list:
    """The former ``diffad_lib.data.images._spread`` (magnetic_tiles' max_per_kind), verbatim."""
    if limit is None or len(items) <= limit:
        return items
    idx = np.round(np.linspace(0, len(items) - 1, limit)).astype(int)
    return [items[i] for i in idx]


def _leaderboard_spread(names: list, n: int) -> list:
    """The former ``diffad_lib.leaderboard._spread`` (n = 0 meant all), verbatim."""
    if n == 0 or n >= len(names):
        return list(names)
    idx = np.unique(np.round(np.linspace(0, len(names) - 1, n)).astype(int))
    return [names[i] for i in idx]


def test_spread_examples() -> None:
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread(list(range(10)), 1) == [0]
    assert spread(["a", "b", "c", "d", "e"], 2) == ["a", "e"]
    assert spread(["a", "b", "c", "d", "e"], 3) == ["a", "c", "e"]
    assert spread(list(range(8)), 3) == [0, 4, 7]  # 3.5 rounds half to even
    assert spread(list("abc"), 5) == ["a", "b", "c"]  # short lists are kept whole
    assert spread(list("abc"), None) == ["a", "b", "c"]
    assert spread([], 3) == []
    assert spread(range(5), 2) == [0, 4]  # any sequence
    items = [1, 2, 3]
    assert spread(items, None) is not items  # a new list


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 7, 10, 31, 100, 392])
def test_spread_chooses_what_both_former_helpers_chose(length: int) -> None:
    items = [f"s{i:03d}" for i in range(length)]
    for n in range(1, length + 3):
        got = spread(items, n)
        assert got == _images_spread(items, n) == _leaderboard_spread(items, n), (length, n)
        assert len(got) == min(n, length) and len(set(got)) == len(got)
    assert spread(items, None) == _images_spread(items, None) == _leaderboard_spread(items, 0)


def test_spread_rejects_bad_n() -> None:
    with pytest.raises(ValueError, match="n must"):
        spread([1, 2, 3], 0)
    with pytest.raises(TypeError, match="n must"):
        spread([1, 2, 3], 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must"):
        spread([1, 2, 3], True)  # type: ignore[arg-type]
