"""A differentiable bank of 2-D Morlet wavelets, built in torch the way kymatio 0.3.0 builds it.

kymatio (``scattering2d/filter_bank.py``) samples each Gabor on the padded grid, periodises it
by summing 5 x 5 shifted copies, subtracts a Gaussian so the Morlet has zero mean, takes the
real part of its 2-D FFT and crops that to coarser resolutions. Doing the same arithmetic in
torch lets gradients reach the four parameters of every wavelet (Gauthier et al., "Parametric
Scattering Networks", CVPR 2022). Two shortcuts, exact to float32 precision: the envelope is
evaluated only inside the ellipse where it exceeds ``exp(-_TAIL)``, not on the 25 full copies
of the grid; and the DFT of that small window is taken directly as matrix products (the
complex exponentials are periodic, so the periodisation comes for free). Building the bank
then costs little next to the scattering itself.
"""

import math

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    "MorletFilterBank",
    "crop_band",
    "crop_fourier",
    "morlet_fourier",
    "random_parameters",
    "tight_frame_parameters",
]

#: kymatio normalises by 2 * 3.1415 * sigma**2 / slant (sic, not pi); kept for faithfulness.
_KYMATIO_TWO_PI = 2 * 3.1415
#: The envelope is dropped where exp(-Q) < exp(-_TAIL): 1e-13 of its peak.
_TAIL = 30.0
#: Floors that sigma and slant are projected back onto during training (they must stay > 0).
MIN_SIGMA = 0.05
MIN_SLANT = 0.01

_PARAM_NAMES = ("theta", "sigma", "xi", "slant")


def tight_frame_parameters(J, L):
    """kymatio's wavelet parameters: the tight-frame initialisation, filter ``j * L + l``.

    Returns ``(theta, sigma, xi, slant)``, each a float64 array of length ``J * L``:
    ``sigma = 0.8 * 2**j``, ``xi = 3 pi / (4 * 2**j)``, ``slant = 4 / L`` and
    ``theta = (int(L - L/2 - 1) - l) * pi / L`` (kymatio's expression, which is
    ``(L // 2 - 1 - l) * pi / L`` for every ``L > 1``).

    Examples
    --------
    >>> theta, sigma, xi, slant = tight_frame_parameters(J=2, L=8)
    >>> sigma[[0, 8]].tolist(), float(slant[0])
    ([0.8, 1.6], 0.5)
    """
    j, l = np.divmod(np.arange(J * L), L)
    theta = (int(L - L / 2 - 1) - l) * np.pi / L
    sigma = 0.8 * 2.0**j
    xi = 3.0 / 4.0 * np.pi / 2.0**j
    slant = np.full(J * L, 4.0 / L)
    return theta, sigma, xi, slant


def random_parameters(J, L, random_state=None):
    """The random initialisation of Gauthier et al.: one draw per wavelet, whatever its scale.

    ``theta ~ U(0, 2 pi)``, ``slant ~ U(0.5, 1.5)``, ``xi ~ U(0.5, 1)`` and
    ``sigma = log(U(e, e**5))`` (so in [1, 5]).

    Examples
    --------
    >>> theta, sigma, xi, slant = random_parameters(2, 8, random_state=0)
    >>> bool(((sigma >= 1) & (sigma <= 5)).all())
    True
    """
    # A RandomState is used as is (scikit-learn's convention); an int or None seeds a new one.
    rng = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    n = J * L
    theta = rng.uniform(0, 2 * np.pi, n)
    slant = rng.uniform(0.5, 1.5, n)
    xi = rng.uniform(0.5, 1.0, n)
    sigma = np.log(rng.uniform(np.e, np.e**5, n))
    return theta, sigma, xi, slant


def _window(M, extent):
    """Grid coordinates that kymatio sums over ([-2M, 3M)), cut to the envelope's extent."""
    r = int(math.ceil(extent))
    return max(-2 * M, -r), min(3 * M - 1, r)


def _gabor_window(shape, theta, sigma, xi, slant, morlet):
    """kymatio's Gabor (or Morlet) wavelets where their envelope matters.

    All four parameters are tensors of length F (one filter each). ``psi(u) = g(u) (exp(i
    xi . u) - K)`` with the Gaussian ``g(u) = exp(-u^T C u)``, ``C = R diag(1, slant**2)
    R^T / (2 sigma**2)``, rows as the first coordinate, divided by ``2 * 3.1415 *
    sigma**2 / slant``; ``K = 0`` for a Gabor, and for a Morlet the constant that makes
    the sum zero. Returns the real and imaginary parts (F, Wx, Wy), float64 and
    differentiable, and the grid coordinates (lo_x, lo_y) of entry (0, 0); kymatio sums
    over [-2M, 3M) x [-2N, 3N) and folds onto the M x N grid.
    """
    M, N = shape
    theta, sigma, xi, slant = (t.to(torch.float64).reshape(-1, 1, 1) for t in (theta, sigma, xi, slant))
    with torch.no_grad():
        # Extent of the ellipse exp(-u^T C u) >= exp(-_TAIL) along rows and columns.
        c2, s2 = torch.cos(theta) ** 2, torch.sin(theta) ** 2
        g2 = slant**2
        ext_x = torch.sqrt(2 * _TAIL * sigma**2 * (c2 + s2 / g2)).max().item()
        ext_y = torch.sqrt(2 * _TAIL * sigma**2 * (s2 + c2 / g2)).max().item()
    lo_x, hi_x = _window(M, ext_x)
    lo_y, hi_y = _window(N, ext_y)
    x = torch.arange(lo_x, hi_x + 1, dtype=torch.float64, device=theta.device).view(1, -1, 1)
    y = torch.arange(lo_y, hi_y + 1, dtype=torch.float64, device=theta.device).view(1, 1, -1)
    c, s = torch.cos(theta), torch.sin(theta)
    g2 = slant * slant
    inv = 1.0 / (2 * sigma * sigma)
    a = (c * c + g2 * s * s) * inv
    b = c * s * (1 - g2) * inv
    d = (s * s + g2 * c * c) * inv
    env = torch.exp(-(a * x * x + 2 * b * x * y + d * y * y))
    phase = xi * (c * x + s * y)
    re, im = env * torch.cos(phase), env * torch.sin(phase)
    if morlet:
        # Subtract K * g with K = sum(gabor) / sum(g): zero mean, exactly as kymatio.
        total = env.sum((-2, -1), keepdim=True)
        re = re - env * (re.sum((-2, -1), keepdim=True) / total)
        im = im - env * (im.sum((-2, -1), keepdim=True) / total)
    norm = _KYMATIO_TWO_PI * sigma * sigma / slant
    return re / norm, im / norm, lo_x, lo_y


def _dft_matrices(size, lo, width, device):
    """cos and sin of 2 pi k x / size for frequencies k and window coordinates x, float32."""
    k = torch.arange(size, dtype=torch.int64, device=device)[:, None]
    x = torch.arange(lo, lo + width, dtype=torch.int64, device=device)[None, :]
    angle = (2 * math.pi / size) * torch.remainder(k * x, size).to(torch.float64)
    return torch.cos(angle).float(), torch.sin(angle).float()


def _fold(window, lo_x, lo_y, shape):
    """Sum a window (F, Wx, Wy) with grid coordinates from (lo_x, lo_y) onto the periodic grid."""
    M, N = shape
    dev = window.device
    rows = torch.remainder(torch.arange(lo_x, lo_x + window.shape[-2], device=dev), M)
    cols = torch.remainder(torch.arange(lo_y, lo_y + window.shape[-1], device=dev), N)
    out = window.new_zeros(window.shape[0], M, window.shape[-1]).index_add(1, rows, window)
    return window.new_zeros(window.shape[0], M, N).index_add(2, cols, out)


def morlet_fourier(shape, theta, sigma, xi, slant):
    """Real part of the 2-D DFT of kymatio's periodised Morlet wavelets: (F, M, N) float32.

    kymatio keeps only this real part (the imaginary part vanishes up to the Gaussian's
    tails); convolving with it is what its scattering does. The DFT of the (small) window
    is taken directly, as two matrix products per axis: the exponentials are periodic, so
    the periodisation comes for free and no full-size grid is ever filled.
    """
    re, im, lo_x, lo_y = _gabor_window(shape, theta, sigma, xi, slant, morlet=True)
    if re.shape[-2] > shape[0] or re.shape[-1] > shape[1]:
        # A window wider than the grid (a very elongated wavelet: small slant or large
        # sigma, as learning can produce): the matrix DFT would cost O(window^2) per
        # frequency row; fold the window onto the grid (periodisation) and use an FFT.
        folded = torch.complex(_fold(re, lo_x, lo_y, shape), _fold(im, lo_x, lo_y, shape))
        return torch.fft.fft2(folded).real.float()
    re, im = re.float(), im.float()
    cos_x, sin_x = _dft_matrices(shape[0], lo_x, re.shape[-2], re.device)
    cos_y, sin_y = _dft_matrices(shape[1], lo_y, re.shape[-1], re.device)
    # Rows: (C - iS)(re + i im); then columns, keeping the real part only.
    rows_re = torch.matmul(cos_x, re) + torch.matmul(sin_x, im)
    rows_im = torch.matmul(cos_x, im) - torch.matmul(sin_x, re)
    return torch.matmul(rows_re, cos_y.T) + torch.matmul(rows_im, sin_y.T)


def crop_band(size, res):
    """The frequencies (a slice) that kymatio zeroes before folding ``size`` onto ``size / 2**res``."""
    start = int(size * 2 ** (-res - 1))
    return slice(start, start + int(size * (1 - 2 ** (-res))))


def crop_fourier(x, res):
    """kymatio's ``periodize_filter_fft``: a Fourier filter at ``2**res`` times coarser sampling.

    Frequencies above the new Nyquist band are zeroed, then the ``4**res`` blocks are summed
    (so each frequency keeps its value). Works on the last two dimensions of a tensor, with
    autograd.
    """
    if res == 0:
        return x
    M, N = x.shape[-2:]
    k = 2**res
    keep_x = torch.ones(M, dtype=x.dtype, device=x.device)
    keep_x[crop_band(M, res)] = 0
    keep_y = torch.ones(N, dtype=x.dtype, device=x.device)
    keep_y[crop_band(N, res)] = 0
    x = x * keep_x[:, None] * keep_y
    x = x.reshape(x.shape[:-2] + (k, M // k, k, N // k))
    return x.sum((-4, -2))


class MorletFilterBank(nn.Module):
    """J x L Morlet wavelets with learnable orientation, scale, frequency and slant.

    Filter ``j * L + l`` has the four scalars ``theta[j*L + l]`` (orientation), ``sigma``
    (width of the Gaussian envelope, pixels), ``xi`` (central frequency, radians per pixel)
    and ``slant`` (ratio of the envelope's widths): kymatio's Morlet wavelets in the
    "canonical" parameterisation of Gauthier et al. The filters are built in torch at the
    padded size, made zero-mean and transformed to the Fourier domain, so gradients reach
    all four parameters. ``sigma`` and ``slant`` are projected back onto
    ``[MIN_SIGMA, inf)`` and ``[MIN_SLANT, inf)`` before each use (projected gradient
    descent), so whatever the optimiser does they stay positive.

    Parameters
    ----------
    shape : tuple of int
        Padded grid (M, N) on which the filters are sampled.
    J : int
        Number of scales.
    L : int, default=8
        Number of orientations per scale.
    initialization : {"tight-frame", "random"}, default="tight-frame"
        kymatio's parameters (:func:`tight_frame_parameters`) or a random draw
        (:func:`random_parameters`).
    learnable : bool, default=True
        If False the parameters are buffers (saved, but never trained) and the filters are
        computed once and reused.
    random_state : int, RandomState instance or None, default=None
        Seed of the ``"random"`` initialisation.

    Attributes
    ----------
    theta, sigma, xi, slant : torch.Tensor of shape (J * L,)
        The wavelet parameters (``nn.Parameter`` when learnable).

    Examples
    --------
    >>> bank = MorletFilterBank((24, 24), J=3, L=4)
    >>> [tuple(p.shape) for p in bank.parameters()]
    [(12,), (12,), (12,), (12,)]
    >>> [tuple(level.shape) for level in bank()]
    [(12, 24, 24), (12, 12, 12)]
    """

    def __init__(self, shape, J, L=8, initialization="tight-frame", learnable=True, random_state=None):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.J, self.L = int(J), int(L)
        self.learnable = bool(learnable)
        if initialization == "tight-frame":
            values = tight_frame_parameters(self.J, self.L)
        elif initialization == "random":
            values = random_parameters(self.J, self.L, random_state)
        else:
            raise ValueError(
                f"initialization must be 'tight-frame' or 'random', got {initialization!r}."
            )
        for name, value in zip(_PARAM_NAMES, values):
            tensor = torch.as_tensor(value, dtype=torch.float32)
            if self.learnable:
                self.register_parameter(name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)
        self._cache = None

    @property
    def n_levels(self):
        """Resolutions the scattering needs: level ``r`` is used after a ``2**r`` subsampling."""
        return max(1, self.J - 1)

    def _project(self):
        # Projected gradient descent: only touch the tensors when needed, since an in-place
        # change bumps their version and would break a graph that still holds them.
        with torch.no_grad():
            for name, floor in (("sigma", MIN_SIGMA), ("slant", MIN_SLANT)):
                p = getattr(self, name)
                if bool((p < floor).any()):
                    p.clamp_(min=floor)

    def _key(self):
        return tuple((p.data_ptr(), p._version, p.device) for p in (self.theta, self.sigma, self.xi, self.slant))

    def forward(self):
        """The Fourier filters per resolution: a list, level ``r`` of shape (J*L, M/2**r, N/2**r).

        Level ``r`` only matters for scales ``j > r`` (kymatio's second-order filters at a
        coarser resolution); it is computed for all of them to keep the indexing simple.
        """
        self._project()
        differentiable = torch.is_grad_enabled() and any(
            p.requires_grad for p in (self.theta, self.sigma, self.xi, self.slant)
        )
        if not differentiable and self._cache is not None and self._cache[0] == self._key():
            return self._cache[1]
        level0 = morlet_fourier(self.shape, self.theta, self.sigma, self.xi, self.slant)
        levels = [crop_fourier(level0, res) for res in range(self.n_levels)]
        if differentiable:
            self._cache = None
        else:
            self._cache = (self._key(), levels)
        return levels

    def __getstate__(self):
        # The cached filters are recomputed on demand; never pickle them.
        state = self.__dict__.copy()
        state["_cache"] = None
        return state

    def extra_repr(self):
        return f"shape={self.shape}, J={self.J}, L={self.L}, learnable={self.learnable}"
