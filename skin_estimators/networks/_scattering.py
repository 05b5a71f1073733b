"""The 2-D scattering transform, with fixed or learnable Morlet wavelets.

The output equals kymatio 0.3.0's ``Scattering2D`` (same padding, filters, subsampling and
order of coefficients) but is computed differently, for speed on the CPU and for gradients:

* every FFT of a real signal is a real FFT (kymatio casts to complex first), and full
  spectra come from Hermitian symmetry rather than a complex FFT;
* all wavelets of a scale are applied in one batched multiply, and subsampling in Fourier
  (kymatio's ``subsample_fourier``) is folded into that multiply block by block, so the
  full-resolution product is never stored;
* the low-pass phi is separable, so where no spectrum is at hand (after the last modulus
  of each path) smoothing-and-subsampling is two small dense matrix products, not an FFT
  of the large signal plus an inverse FFT of the small one;
* the filters are built once per forward pass (once and for all when frozen), and signals
  go through in small groups so that intermediates stay in the CPU's caches.

The autograd kernels (Fourier-domain products, modulus, spectra) are in
``_scattering_kernels.py``; this module builds the filters and runs the cascade.

For training, the hot operations have hand-written backward passes (in-place
accumulation instead of torch's broadcast-and-reduce), the first-order modulus keeps only
the phase of its input (float16), and the second-order wavelet responses, the largest
tensors of a step, are recomputed in the backward pass instead of stored.
"""

import numpy as np
import torch
import torch.nn as nn

from ._morlet import MorletFilterBank, crop_band
from ._scattering_kernels import (
    _blocks,
    filter_blocks,
    full_spectrum,
    half_spectrum,
    wavelet_modulus,
    wavelet_modulus_of_half,
    weighted_blocks,
)

__all__ = ["Scattering2D", "compute_padding", "n_scattering_coefficients"]

#: kymatio 0.3.0 normalises phi with this value of pi (sic), and so must we to match it.
KYMATIO_PI = 3.1415
#: Width of kymatio's low-pass phi at J = 1 (it doubles with each scale).
PHI_SIGMA0 = 0.8
#: Target size of the largest intermediate of one pass (see Scattering2D._chunk_size).
_CHUNK_BYTES = 32 << 20


def compute_padding(M, N, J):
    """kymatio's padded size: the smallest multiple of ``2**J`` at least ``2**J`` beyond each side.

    Examples
    --------
    >>> compute_padding(400, 400, 2)
    (408, 408)
    """
    return ((M + 2**J) // 2**J + 1) * 2**J, ((N + 2**J) // 2**J + 1) * 2**J


def n_scattering_coefficients(J, L, max_order=2):
    """Coefficients per input channel: ``1 + J L`` (+ ``L**2 J (J - 1) / 2`` at order 2).

    Examples
    --------
    >>> n_scattering_coefficients(2, 8)
    81
    """
    return 1 + J * L + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


def _phi_sigma(J):
    """Width of kymatio's low-pass Gaussian phi at J scales."""
    return PHI_SIGMA0 * 2 ** (J - 1)


def _lowpass_1d(size, J):
    """The Fourier low-pass of one axis per level, float64: kymatio's phi is separable.

    kymatio's phi is a Gaussian of width ``0.8 * 2**(J-1)`` periodised over 5 copies, whose
    DFT's real part is cropped to each coarser resolution (``crop_fourier``); every step
    factorises over the two axes.
    """
    sigma = _phi_sigma(J)
    u = np.arange(-2 * size, 3 * size, dtype=np.float64)
    g = np.exp(-(u**2) / (2 * sigma**2)).reshape(5, size).sum(0)
    full = np.fft.fft(g).real
    levels = []
    for res in range(J):
        cropped = full.copy()
        cropped[crop_band(size, res)] = 0
        levels.append(cropped.reshape(2**res, size // 2**res).sum(0))
    return levels


def _smoothing_matrix(phi_hat, k, n_out):
    """Rows m of: circular convolution with ifft(phi_hat), then keep sample k*(m+1).

    That is kymatio's low-pass, ``subsample_fourier`` by k and unpad (drop the first and
    last sample) of one axis as a matrix (n_out, len(phi_hat)).
    """
    size = len(phi_hat)
    kernel = np.fft.ifft(phi_hat).real
    rows = k * np.arange(1, n_out + 1)[:, None]
    return kernel[(rows - np.arange(size)[None, :]) % size]


class _ReflectPad(nn.Module):
    """kymatio's padding: reflection, and its workaround when the pad equals the image size."""

    def __init__(self, shape, padded):
        super().__init__()
        (M, N), (Mp, Np) = shape, padded
        self.pad = [(Mp - M) // 2, (Mp - M + 1) // 2, (Np - N) // 2, (Np - N + 1) // 2]
        self.extra_rows = self.pad[0] == M
        self.extra_cols = self.pad[2] == N
        top, bottom, left, right = self.pad
        if self.extra_rows:
            top, bottom = top - 1, bottom - 1
        if self.extra_cols:
            left, right = left - 1, right - 1
        self.torch_pad = [left, right, top, bottom]

    def forward(self, x):
        x = nn.functional.pad(x.unsqueeze(1), self.torch_pad, mode="reflect").squeeze(1)
        if self.extra_rows:
            x = torch.cat([x[:, 1:2], x, x[:, -2:-1]], 1)
        if self.extra_cols:
            x = torch.cat([x[:, :, 1:2], x, x[:, :, -2:-1]], 2)
        return x


class Scattering2D(nn.Module):
    """2-D scattering transform with Morlet wavelets that can be learned.

    With ``learnable=False`` and ``initialization="tight-frame"`` this is kymatio 0.3.0's
    ``Scattering2D(J, shape, L, max_order)`` on every channel of the input, reshaped to
    ``(batch, channels * K, H // 2**J, W // 2**J)`` with coefficients in kymatio's order
    (channel, then order 0, the J*L first-order paths, the second-order paths with ``j2 >
    j1``); ``K = 1 + J L + L**2 J (J-1) / 2`` (81 for J=2, L=8). With ``learnable=True``
    the wavelets' orientation, scale, frequency and slant (``self.filters``) are trainable;
    the low-pass phi always stays fixed.

    Parameters
    ----------
    J : int
        Number of scales; the output is subsampled by ``2**J``. Needs ``2**J <= H, W``.
    shape : tuple of int
        Input size (H, W).
    L : int, default=8
        Orientations per scale.
    max_order : {1, 2}, default=2
        Highest scattering order.
    learnable : bool, default=True
        Train the wavelets' parameters.
    initialization : {"tight-frame", "random"}, default="tight-frame"
        Starting wavelets (see :class:`MorletFilterBank`).
    random_state : int, RandomState instance or None, default=None
        Seed of the random initialisation.

    Examples
    --------
    >>> import torch
    >>> S = Scattering2D(J=2, shape=(32, 32), learnable=False)
    >>> S(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 243, 8, 8])
    """

    def __init__(
        self,
        J,
        shape,
        L=8,
        max_order=2,
        learnable=True,
        initialization="tight-frame",
        random_state=None,
    ):
        super().__init__()
        M, N = (int(s) for s in shape)
        if not (isinstance(J, (int, np.integer)) and J >= 1):
            raise ValueError(f"J must be a positive integer, got {J!r}.")
        if not (isinstance(L, (int, np.integer)) and L >= 1):
            raise ValueError(f"L must be a positive integer, got {L!r}.")
        if max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2, got {max_order!r}.")
        if 2**J > M or 2**J > N:
            raise ValueError(
                f"Scattering2D with J={J} needs images of at least 2**J = {2**J} pixels per "
                f"side, got {M}x{N}: lower J or use larger images."
            )
        self.J, self.L, self.max_order = int(J), int(L), int(max_order)
        self.shape = (M, N)
        self.padded_shape = compute_padding(M, N, self.J)
        self.pad = _ReflectPad(self.shape, self.padded_shape)
        self.filters = MorletFilterBank(
            self.padded_shape, self.J, self.L, initialization, learnable, random_state
        )
        Mp, Np = self.padded_shape
        rows, cols = _lowpass_1d(Mp, self.J), _lowpass_1d(Np, self.J)
        # kymatio divides phi by 2 * pi * sigma**2 (with its pi); put it on the row factor.
        norm = 2 * KYMATIO_PI * _phi_sigma(self.J) ** 2
        Mo, No = self.output_shape
        for r in range(self.J):
            k = 2 ** (self.J - r)
            phi = torch.from_numpy(np.outer(rows[r] / norm, cols[r]))
            # Only the columns that land in the half spectrum of the subsampled result.
            n_half = phi.shape[-1] // k // 2 + 1
            blocks = _blocks(phi, k)[..., :n_half] / (k * k)
            self.register_buffer(
                f"phi_blocks_{r}", blocks.to(torch.complex64).contiguous(), persistent=False
            )
            self.register_buffer(
                f"phi_rows_{r}",
                torch.from_numpy(_smoothing_matrix(rows[r] / norm, k, Mo)).float(),
                persistent=False,
            )
            self.register_buffer(
                f"phi_cols_{r}",
                torch.from_numpy(_smoothing_matrix(cols[r], k, No).T.copy()).float(),
                persistent=False,
            )
        self._prepared = None

    @property
    def n_coefficients(self):
        """Coefficients per input channel (81 for J=2, L=8, order 2)."""
        return n_scattering_coefficients(self.J, self.L, self.max_order)

    @property
    def output_shape(self):
        """Spatial size (H', W') of the coefficients: kymatio's padded size / 2**J, minus 2."""
        return tuple(s // 2**self.J - 2 for s in self.padded_shape)

    def _prepare(self, levels):
        """Wavelets as the products need them: complex, divided by the subsampling's k**2.

        Keyed on the level tensors, so frozen filters are prepared once.
        """
        if self._prepared is not None and self._prepared[0] is levels:
            return self._prepared[1]
        J, L = self.J, self.L

        def scaled(level, j, k):
            group = levels[level][j * L : (j + 1) * L] / (k * k)
            return group, filter_blocks(group, k)

        first, second = [], {}
        for j1 in range(J):
            first.append(scaled(0, j1, 2**j1))
            if self.max_order == 2:
                for j2 in range(j1 + 1, J):
                    second[j1, j2] = scaled(j1, j2, 2 ** (j2 - j1))
        prepared = first, second
        if not torch.is_grad_enabled() or not levels[0].requires_grad:
            self._prepared = (levels, prepared)
        return prepared

    def __getstate__(self):
        # The prepared filters are recomputed on demand; never pickle them.
        state = self.__dict__.copy()
        state["_prepared"] = None
        return state

    def _lowpass_spectrum(self, spectrum, r):
        """S from the full spectrum (..., Mr, Nr) of a real signal at level r."""
        k = 2 ** (self.J - r)
        z = weighted_blocks(spectrum, getattr(self, f"phi_blocks_{r}"), k)
        size = (spectrum.shape[-2] // k, spectrum.shape[-1] // k)
        return torch.fft.irfft2(z, s=size)[..., 1:-1, 1:-1]

    def _lowpass_signal(self, u, r):
        """S from a real signal (..., Mr, Nr) at level r: two small matrix products."""
        rows, cols = getattr(self, f"phi_rows_{r}"), getattr(self, f"phi_cols_{r}")
        return torch.matmul(rows, torch.matmul(u, cols))

    def _chunk_size(self):
        """Signals per pass: keep the largest intermediate near _CHUNK_BYTES, to stay in cache."""
        Mp, Np = self.padded_shape
        # complex64 (8 bytes) responses of L wavelets, L/4 times more at the second order
        per_signal = 8 * self.L * Mp * Np * max(1, self.L // 4 if self.max_order == 2 else 1)
        return max(1, _CHUNK_BYTES // per_signal)

    def _scatter(self, signal, first, second):
        """Coefficients (n, K, H', W') of n padded real signals (n, Mp, Np)."""
        J = self.J
        half = torch.fft.rfft2(signal)
        spectrum = full_spectrum(half, signal.shape[-1])
        order0 = [self._lowpass_spectrum(spectrum, 0).unsqueeze(1)]
        order1, order2 = [], []
        for j1 in range(J):
            # First order: the responses' phase is kept (float16) for the backward pass.
            u1 = wavelet_modulus(spectrum, *first[j1], recompute=False)
            if self.max_order < 2 or j1 == J - 1:
                order1.append(self._lowpass_signal(u1, j1))
                continue
            u1_half = half_spectrum(u1)
            order1.append(self._lowpass_spectrum(full_spectrum(u1_half, u1.shape[-1]), j1))
            paths = []
            for j2 in range(j1 + 1, J):
                # Second order: L times more responses; recomputed in the backward pass
                # from the half spectrum of u1 (the full one is rebuilt there).
                u2 = wavelet_modulus_of_half(u1_half, u1.shape[-1], *second[j1, j2])
                paths.append(self._lowpass_signal(u2, j2))
            paths = torch.cat(paths, 2)
            order2.append(paths.reshape(paths.shape[0], -1, *paths.shape[-2:]))
        return torch.cat(order0 + order1 + order2, 1)

    def forward(self, x):
        """Scattering coefficients of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, channels, H, W)

        Returns
        -------
        torch.Tensor of shape (batch, channels * n_coefficients, H', W')
        """
        if x.dim() != 4 or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"Scattering2D expects a tensor (batch, channels, {self.shape[0]}, "
                f"{self.shape[1]}), got shape {tuple(x.shape)}."
            )
        B, C = x.shape[:2]
        first, second = self._prepare(self.filters())
        signals = self.pad(x.reshape(B * C, *self.shape))
        step = self._chunk_size()
        out = [self._scatter(signals[i : i + step], first, second) for i in range(0, B * C, step)]
        out = out[0] if len(out) == 1 else torch.cat(out)
        return out.reshape(B, -1, *out.shape[-2:])

    def extra_repr(self):
        return f"J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}"
