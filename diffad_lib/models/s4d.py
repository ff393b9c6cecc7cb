"""Diagonal state-space layer (S4D, Gu et al. 2022), bidirectional, with FFT convolution.

The continuous SSM ``x'(t) = A x(t) + B u(t)``, ``y(t) = C x(t) + D u(t)`` is kept per channel
``h`` with a diagonal complex ``A`` of ``N/2`` modes. The modes stand for ``N`` modes in
conjugate pairs, so every output is ``y = 2·Re(C x) + D u`` and real inputs give real outputs.

* S4D-Lin initialisation: ``A_n = -1/2 + i·π·n`` for ``n = 0 .. N/2 - 1``; the real part is
  stored as ``log(-Re A)`` so that ``Re A < 0`` (stability) holds for every parameter value.
* ``B`` is fixed to 1 (its role is absorbed into the trainable complex ``C``).
* Zero-order-hold discretisation with a per-channel step ``dt = exp(log_dt)``:
  ``Ā = exp(dt·A)``, ``B̄ = (exp(dt·A) - 1) / A · B``.
* Recurrence ``x_k = Ā x_{k-1} + B̄ u_k``, ``y_k = 2·Re(C x_k)``; unrolled it is a causal
  convolution with kernel ``K_l = 2·Re(Σ_n C_n B̄_n Ā_n^l)`` (a Vandermonde product), which
  :class:`S4D` applies with an FFT of length ``2L`` so that the circular wrap never mixes the
  end of the window into its start.

Bidirectional: a second, independent kernel reads the time-reversed sequence; its output is
reversed back and added, so position ``t`` sees the whole window. With
``bidirectional=False`` the layer is strictly causal.

Kernel evaluation. Written out, ``K`` needs ``exp(l·dt·A)`` for every channel, mode and lag:
``H·N/2·L`` complex exponentials, which dominate the layer's cost on a CPU (complex ``exp`` is
not vectorised there). :class:`S4DKernel` splits the lag as ``l = b·q + r`` with a block of
``b ≈ √L`` lags, so ``Ā^l = Ā^r · Ā^{b·q}`` and
``K[h, b·q + r] = 2·Re Σ_n (C B̄ Ā^r)[h, r, n] · (Ā^{b·q})[h, n, q]``: one batched complex matrix
product over the modes from two tables of only ``H·N/2·(b + L/b)`` exponentials. Every factor is
still a direct exponential (no repeated multiplication, so no error growing with ``l``); the
result equals the direct formula to float rounding. ``method="direct"`` keeps the written-out
formula as the reference path (see :func:`configure_kernels`).

Kernels are recomputed on every forward pass in training mode. In eval mode with gradients
disabled they are cached, keyed on the length, device, dtype and the parameters' identity and
version counters, so an optimiser step, ``load_state_dict``, ``.to(...)`` or ``.train()``
invalidates the cache. :class:`S4D` also caches the FFT of its combined two-way kernel next to
it, so consecutive denoising steps at one window length do no kernel work at all.

:func:`s4d_recurrence` is the step-by-step reference the tests hold the FFT path to, and
:func:`param_groups` gives the SSM parameters (``log_dt``, ``log_A_real``, ``A_imag``) their
own learning rate and no weight decay, as the S4 authors recommend.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from diffad_lib._validation import check_int

KernelMethod = Literal["blocked", "direct"]


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    """At least float32: complex half / bfloat16 do not exist, and FFTs in them are unsafe."""
    return torch.promote_types(dtype, torch.float32)


def s4d_recurrence(u: torch.Tensor, *, dA: torch.Tensor, dB: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Causal SSM output by the recurrence, one step at a time (the tests' reference).

    u: (B, H, L) real; dA, dB, C: (H, N/2) complex (discrete ``Ā``, ``B̄`` and ``C``).
    Returns (B, H, L) real with ``x_k = Ā x_{k-1} + B̄ u_k`` (``x_{-1} = 0``) and
    ``y_k = 2·Re(Σ_n C_n x_{k,n})``; no ``D`` skip term. O(L) Python steps: slow, for tests.
    """
    if u.ndim != 3:
        raise ValueError(f"u must be (B, H, L); got shape {tuple(u.shape)}")
    if not (dA.shape == dB.shape == C.shape) or dA.ndim != 2 or dA.shape[0] != u.shape[1]:
        raise ValueError(
            f"dA, dB, C must all be (H, N/2) with H = {u.shape[1]}; "
            f"got {tuple(dA.shape)}, {tuple(dB.shape)}, {tuple(C.shape)}"
        )
    batch, _, length = u.shape
    x = torch.zeros(batch, *dA.shape, dtype=dA.dtype, device=u.device)  # (B, H, N/2)
    ys = []
    for k in range(length):
        x = dA * x + dB * u[:, :, k, None]  # (B, H, N/2)
        ys.append(2.0 * (C * x).sum(-1).real)  # (B, H)
    return torch.stack(ys, dim=-1).to(u.dtype)  # (B, H, L)


class S4DKernel(nn.Module):
    """Convolution kernel of a diagonal SSM, one per channel: ``forward(L) -> (H, L)``.

    Parameters: ``log_dt`` (H,), ``log_A_real`` (H, N/2), ``A_imag`` (H, N/2) — the SSM
    parameters — and ``C`` (H, N/2, 2), a complex number stored as (real, imag).
    ``d_state`` is N, the real state size; it must be even (N/2 complex conjugate pairs).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        check_int(d_model, name="d_model", minimum=1)
        check_int(d_state, name="d_state", minimum=2)
        if d_state % 2 != 0:
            raise ValueError(f"d_state must be even (conjugate pairs); got {d_state}")
        if not (0 < dt_min <= dt_max) or not math.isfinite(dt_max):
            raise ValueError(f"need 0 < dt_min <= dt_max < inf; got dt_min={dt_min!r}, dt_max={dt_max!r}")
        self.d_model = d_model
        self.d_state = d_state
        n_modes = d_state // 2
        # dt log-uniform in [dt_min, dt_max]: channels see time scales from 1/dt_min to 1/dt_max steps
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)  # (H,)
        self.log_dt = nn.Parameter(log_dt)  # (H,)
        # S4D-Lin: A_n = -1/2 + i·π·n
        self.log_A_real = nn.Parameter(torch.full((d_model, n_modes), math.log(0.5)))  # (H, N/2)
        self.A_imag = nn.Parameter(math.pi * torch.arange(n_modes).float().repeat(d_model, 1))  # (H, N/2)
        # C ~ complex standard normal (E|C|^2 = 1), stored as (real, imag) for the optimiser
        self.C = nn.Parameter(torch.view_as_real(torch.randn(d_model, n_modes, dtype=torch.cfloat)))
        self._cache: tuple[tuple[Any, ...], torch.Tensor] | None = None
        self.method: KernelMethod = "blocked"  # "direct": the written-out reference formula
        self.cache = True  # False recomputes in eval mode too (the reference path of the benchmark)

    def ssm_parameters(self) -> list[nn.Parameter]:
        """The parameters that want their own learning rate and no weight decay."""
        return [self.log_dt, self.log_A_real, self.A_imag]

    def _continuous(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(dt (H,), A (H, N/2), C (H, N/2)) in at least float32 / complex64."""
        real = _real_dtype(self.log_dt.dtype)
        dt = self.log_dt.to(real).exp()  # (H,)
        A = torch.complex(-self.log_A_real.to(real).exp(), self.A_imag.to(real))  # (H, N/2)   Re A < 0
        C = torch.view_as_complex(self.C.to(real).contiguous())  # (H, N/2)
        return dt, A, C

    def discretize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Zero-order hold: (Ā, B̄, C), each (H, N/2) complex (complex64 or complex128)."""
        dt, A, C = self._continuous()  # (H,), (H, N/2), (H, N/2)
        dA = torch.exp(A * dt[:, None])  # (H, N/2)   Ā = exp(dt·A)
        dB = (dA - 1.0) / A  # (H, N/2)   B̄ = (exp(dt·A) - 1) / A · B, with B = 1
        return dA, dB, C

    def _compute(self, length: int) -> torch.Tensor:
        # complex parameters never go through autocast: a bf16 kernel would lose the slow modes
        with torch.autocast(self.log_dt.device.type, enabled=False):
            if self.method == "direct":
                return self._compute_direct(length)
            return self._compute_blocked(length)

    def _compute_direct(self, length: int) -> torch.Tensor:
        """The written-out Vandermonde product, ``H·N/2·L`` complex exponentials (reference)."""
        dt, A, C = self._continuous()  # (H,), (H, N/2), (H, N/2)
        dtA = A * dt[:, None]  # (H, N/2)
        CB = C * (dtA.exp() - 1.0) / A  # (H, N/2)   C·B̄
        steps = torch.arange(length, device=dt.device, dtype=dt.dtype)  # (L,)
        vandermonde = torch.exp(dtA[:, :, None] * steps)  # (H, N/2, L)   Ā^l as exp(l·dt·A)
        return 2.0 * torch.einsum("hn,hnl->hl", CB, vandermonde).real  # (H, L)

    def _compute_blocked(self, length: int) -> torch.Tensor:
        """Same kernel from lag blocks ``l = b·q + r``: ``Ā^l = Ā^r · Ā^{b·q}`` (module docstring)."""
        dt, A, C = self._continuous()  # (H,), (H, N/2), (H, N/2)
        dtA = A * dt[:, None]  # (H, N/2)
        CB = C * (dtA.exp() - 1.0) / A  # (H, N/2)   C·B̄
        block = max(1, math.isqrt(length))  # b: balances the two exponential tables
        n_blocks = -(-length // block)  # Q = ceil(L / b)
        within = torch.arange(block, device=dt.device, dtype=dt.dtype)  # (b,)   r
        starts = torch.arange(n_blocks, device=dt.device, dtype=dt.dtype) * block  # (Q,)   b·q
        inner = CB[:, None, :] * torch.exp(dtA[:, None, :] * within[:, None])  # (H, b, N/2)   C B̄ Ā^r
        outer = torch.exp(dtA[:, :, None] * starts)  # (H, N/2, Q)   Ā^{b·q}
        blocks = torch.bmm(inner, outer)  # (H, b, Q)   entry [h, r, q] is lag b·q + r
        kernel = blocks.real.transpose(1, 2).reshape(self.d_model, block * n_blocks)  # (H, b·Q)
        return 2.0 * kernel[:, :length]  # (H, L)

    def _cache_key(self, length: int) -> tuple[Any, ...]:
        params = (self.log_dt, self.log_A_real, self.A_imag, self.C)
        return (
            length,
            self.method,
            self.log_dt.device,
            self.log_dt.dtype,
            tuple(p.data_ptr() for p in params),
            tuple(p._version for p in params),  # bumped by every in-place update (optimiser, copy_)
        )

    def forward(self, length: int) -> torch.Tensor:
        """Kernel ``K`` (H, L): ``K[h, l] = 2·Re(Σ_n C B̄ Ā^l)``; float32 (or float64 parameters)."""
        check_int(length, name="length", minimum=1)
        if self.training or torch.is_grad_enabled() or not self.cache:
            # a cached tensor would either go stale or drop its autograd graph
            self._cache = None
            return self._compute(length)
        key = self._cache_key(length)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._compute(length))
        return self._cache[1]

    def train(self, mode: bool = True) -> S4DKernel:
        self._cache = None
        return super().train(mode)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> S4DKernel:
        self._cache = None  # .to(), .double(), .cuda() ... move the parameters
        return super()._apply(fn, *args, **kwargs)


class S4D(nn.Module):
    """Bidirectional diagonal S4 layer: (B, H, L) -> (B, H, L).

    ``y = GLU(Conv1x1(dropout(GELU(ssm(u)))))`` with ``ssm(u) = K_fwd * u + flip(K_bwd * flip(u))
    + D·u`` (``K_bwd`` term only when ``bidirectional``). The SSM runs in at least float32 (so
    it is safe under bf16 autocast); any sequence length works, no ``l_max`` is needed.
    """

    def __init__(
        self,
        d_model: int,
        *,
        d_state: int = 64,
        bidirectional: bool = True,
        dropout: float = 0.0,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1); got {dropout!r}")
        if not isinstance(bidirectional, bool):
            raise ValueError(f"bidirectional must be a bool; got {bidirectional!r}")
        self.d_model = d_model
        self.bidirectional = bidirectional
        self.kernel_fwd = S4DKernel(d_model, d_state, dt_min, dt_max)
        self.kernel_bwd = S4DKernel(d_model, d_state, dt_min, dt_max) if bidirectional else None
        self.D = nn.Parameter(torch.randn(d_model))  # (H,)   skip term D·u
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.output_linear = nn.Conv1d(d_model, 2 * d_model, kernel_size=1)  # GLU halves it back to H
        # (length, work dtype, forward kernel, backward kernel, spectrum): valid while both kernels
        # are the very tensors the kernel caches still serve
        self._spectrum: tuple[int, torch.dtype, torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None

    def ssm_parameters(self) -> list[nn.Parameter]:
        """``log_dt``, ``log_A_real``, ``A_imag`` of every direction (see :func:`param_groups`)."""
        kernels = [self.kernel_fwd] + ([self.kernel_bwd] if self.kernel_bwd is not None else [])
        return [p for k in kernels for p in k.ssm_parameters()]

    def _check_input(self, u: torch.Tensor) -> None:
        if u.ndim != 3 or u.shape[1] != self.d_model:
            raise ValueError(f"u must be (B, H={self.d_model}, L); got shape {tuple(u.shape)}")

    def train(self, mode: bool = True) -> S4D:
        self._spectrum = None
        return super().train(mode)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> S4D:
        self._spectrum = None
        return super()._apply(fn, *args, **kwargs)

    def kernel_spectrum(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        """rFFT (H, L+1) of the combined kernel of length ``2L`` (both directions) in ``dtype``.

        Kept beside the S4 kernels' own cache: while both kernels come back as the same cached
        tensors (eval mode, gradients off, unchanged parameters), so does this spectrum.
        """
        k_fwd = self.kernel_fwd(length)  # (H, L)
        k_bwd = self.kernel_bwd(length) if self.kernel_bwd is not None else None  # (H, L)
        hit = self._spectrum
        if hit is not None and hit[0] == length and hit[1] == dtype and hit[2] is k_fwd and hit[3] is k_bwd:
            return hit[4]
        if k_bwd is None:
            k = F.pad(k_fwd, (0, length))  # (H, 2L)   lags 0 .. L-1, then zeros
        else:
            # one kernel of length 2L: index l < L is lag +l (past), index 2L - m is lag -m
            # (future, read by the backward kernel); lag 0 is shared, index L (lag ±L) unused
            k = torch.cat(
                [
                    k_fwd[:, :1] + k_bwd[:, :1],  # (H, 1)   lag 0
                    k_fwd[:, 1:],  # (H, L-1)   lags 1 .. L-1
                    torch.zeros_like(k_fwd[:, :1]),  # (H, 1)   lag ±L
                    k_bwd[:, 1:].flip(-1),  # (H, L-1)   lags -(L-1) .. -1
                ],
                dim=-1,
            )  # (H, 2L)
        k_f = torch.fft.rfft(k.to(dtype), n=2 * length)  # (H, L+1)
        # with gradients on, k_f carries a graph that must not outlive this step
        self._spectrum = None if torch.is_grad_enabled() else (length, dtype, k_fwd, k_bwd, k_f)
        return k_f

    def ssm(self, u: torch.Tensor) -> torch.Tensor:
        """The linear SSM part by FFT convolution: (B, H, L) -> (B, H, L), before GELU/GLU."""
        self._check_input(u)
        length = u.shape[-1]
        work = torch.promote_types(_real_dtype(u.dtype), _real_dtype(self.kernel_fwd.log_dt.dtype))
        u_w = u.to(work)  # (B, H, L)
        u_f = torch.fft.rfft(u_w, n=2 * length)  # (B, H, L+1)
        k_f = self.kernel_spectrum(length, work)  # (H, L+1)
        y = torch.fft.irfft(u_f * k_f, n=2 * length)[..., :length]  # (B, H, L)   linear, no wrap
        return y + self.D.to(work)[:, None] * u_w  # (B, H, L)

    def ssm_recurrent(self, u: torch.Tensor) -> torch.Tensor:
        """The same linear part as :meth:`ssm`, by the step-by-step recurrence (slow; tests)."""
        self._check_input(u)
        work = _real_dtype(u.dtype)
        u_w = u.to(work)  # (B, H, L)
        dA, dB, C = self.kernel_fwd.discretize()  # (H, N/2) each
        y = s4d_recurrence(u_w, dA=dA, dB=dB, C=C)  # (B, H, L)
        if self.kernel_bwd is not None:
            dA, dB, C = self.kernel_bwd.discretize()  # (H, N/2) each
            y = y + s4d_recurrence(u_w.flip(-1), dA=dA, dB=dB, C=C).flip(-1)  # (B, H, L)
        return y + self.D.to(y.dtype)[:, None] * u_w  # (B, H, L)

    def output(self, y: torch.Tensor) -> torch.Tensor:
        """Position-wise nonlinearity after the SSM: (B, H, L) -> (B, H, L)."""
        y = self.dropout(self.activation(y))  # (B, H, L)
        y = self.output_linear(y.to(self.output_linear.weight.dtype))  # (B, 2H, L)
        return F.glu(y, dim=1)  # (B, H, L)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """(B, H, L) -> (B, H, L)."""
        return self.output(self.ssm(u))  # (B, H, L)


def param_groups(
    model: nn.Module,
    *,
    weight_decay: float,
    lr_ssm: float | None = None,
) -> list[dict[str, Any]]:
    """Optimiser parameter groups: SSM parameters apart, with ``lr_ssm`` and no weight decay.

    Every :class:`S4DKernel` inside ``model`` contributes ``log_dt``, ``log_A_real`` and
    ``A_imag`` to the SSM group (decaying them would pull ``dt`` and ``Re A`` towards
    ``exp(0) = 1``, a meaningless target); all other trainable parameters get
    ``weight_decay``. ``lr_ssm=None`` leaves the SSM group on the optimiser's default rate.
    Empty groups are left out. Use as ``torch.optim.AdamW(param_groups(m, weight_decay=...), lr=...)``.
    """
    if not (weight_decay >= 0.0 and math.isfinite(weight_decay)):
        raise ValueError(f"weight_decay must be finite and >= 0; got {weight_decay!r}")
    if lr_ssm is not None and not (lr_ssm > 0.0 and math.isfinite(lr_ssm)):
        raise ValueError(f"lr_ssm must be None or finite and > 0; got {lr_ssm!r}")
    ssm_ids = {id(p) for m in model.modules() if isinstance(m, S4DKernel) for p in m.ssm_parameters()}
    ssm = [p for p in model.parameters() if p.requires_grad and id(p) in ssm_ids]
    other = [p for p in model.parameters() if p.requires_grad and id(p) not in ssm_ids]
    groups: list[dict[str, Any]] = []
    if other:
        groups.append({"params": other, "weight_decay": weight_decay})
    if ssm:
        group: dict[str, Any] = {"params": ssm, "weight_decay": 0.0}
        if lr_ssm is not None:
            group["lr"] = lr_ssm
        groups.append(group)
    return groups


def configure_kernels(model: nn.Module, *, method: KernelMethod = "blocked", cache: bool = True) -> nn.Module:
    """Set how every :class:`S4DKernel` inside ``model`` evaluates its kernel; returns ``model``.

    ``method="blocked"`` (default) or ``"direct"`` (the written-out formula, the reference);
    ``cache=False`` recomputes the kernels on every call even in eval mode. The results agree to
    float rounding either way; only the time differs. Existing caches are dropped.
    """
    if method not in ("blocked", "direct"):
        raise ValueError(f"method must be 'blocked' or 'direct'; got {method!r}")
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be a bool; got {type(cache).__name__} {cache!r}")
    for module in model.modules():
        if isinstance(module, S4DKernel):
            module.method = method
            module.cache = cache
            module._cache = None
        elif isinstance(module, S4D):
            module._spectrum = None
    return model
