import numpy as np
import pytest

from diffad_lib.scaling import SCALINGS, ChannelScaler


@pytest.mark.parametrize("method", SCALINGS)
def test_missing_values_fit_each_channel_on_its_observed_values(method):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [1.0, 5.0, 0.1]
    holes = x.copy()
    holes[::7, 1] = np.nan
    fitted = ChannelScaler(method).fit(holes)
    ref = ChannelScaler(method).fit(x)
    kept = ChannelScaler(method).fit(x[np.arange(500) % 7 != 0][:, [1]])
    np.testing.assert_allclose(fitted.offset_[[0, 2]], ref.offset_[[0, 2]])
    np.testing.assert_allclose(fitted.scale_[[0, 2]], ref.scale_[[0, 2]])
    assert fitted.offset_[1] == pytest.approx(kept.offset_[0]) and fitted.scale_[1] == pytest.approx(kept.scale_[0])
    out = fitted.transform(holes)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(holes))  # NaN stays NaN, nothing is filled


def test_a_channel_without_observed_values_is_refused():
    x = np.ones((10, 2))
    x[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"channel\(s\) \[1\]"):
        ChannelScaler("robust").fit(x)
