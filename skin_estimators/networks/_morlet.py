"""Learnable 2-D Morlet filter banks: kymatio 0.3.0's wavelets with trainable parameters.

The wavelets' parameters (kymatio's tight frame or Gauthier et al.'s random draw), the
floors they are projected onto, and the bank that turns them into Fourier filters at every
resolution the scattering needs. How each filter is built, differentiably and at a cost
independent of its shape, is in ``_morlet_fourier``; ``morlet_fourier`` is re-exported
here.
"""

import numpy as np
import torch
import torch.nn as nn

from ._morlet_fourier import _plan, morlet_fourier  # noqa: F401  (re-exported)

__all__ = [
    "MorletFilterBank",
    "crop_band",
    "crop_fourier",
    "morlet_fourier",
    "random_parameters",
    "tight_frame_parameters",
]

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
    "canonical" parameterisation of Gauthier et al. The filters are built in torch on the
    padded grid, zero-mean and exactly periodised, each in space or in closed form in the
    Fourier domain (see ``_morlet_fourier``), so gradients reach all four parameters
    and the cost does not depend on the wavelets' shape. ``sigma`` and ``slant`` are projected back onto
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
