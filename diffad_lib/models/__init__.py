"""Denoisers. Every model maps ``(x_t, t, **conditions) -> ε̂`` with x_t channel-first.

:func:`build_model` builds one by name, so the detector and the chapters can take a string.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from diffad_lib.models.empirical import EmpiricalDenoiser
from diffad_lib.models.mlp import MLPConfig, MLPDenoiser

MODEL_NAMES = ("mlp", "diffwave", "wavelet_unet")


def _config_from_kwargs(config_cls: type, model: str, kwargs: dict[str, Any]) -> Any:
    valid = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for model {model!r}; valid parameters: {valid}")
    required = [f.name for f in dataclasses.fields(config_cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in kwargs]
    if missing:
        raise ValueError(f"model {model!r} requires parameter(s) {missing}; valid parameters: {valid}")
    return config_cls(**kwargs)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a denoiser by name (``"mlp"``, ``"diffwave"``, ``"wavelet_unet"``) from config fields.

    Unknown names or parameters raise ``ValueError`` listing the valid ones.
    """
    if name == "mlp":
        return MLPDenoiser(_config_from_kwargs(MLPConfig, name, kwargs))
    if name == "diffwave":
        from diffad_lib.models.diffwave import DiffWaveConfig, DiffWaveDenoiser

        return DiffWaveDenoiser(_config_from_kwargs(DiffWaveConfig, name, kwargs))
    if name == "wavelet_unet":
        from diffad_lib.models.wavelet_unet import WaveletUNet, WaveletUNetConfig

        return WaveletUNet(_config_from_kwargs(WaveletUNetConfig, name, kwargs))
    raise ValueError(f"model must be one of {list(MODEL_NAMES)} or an nn.Module; got {name!r}")


__all__ = ["MODEL_NAMES", "EmpiricalDenoiser", "MLPConfig", "MLPDenoiser", "build_model"]
