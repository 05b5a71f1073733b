"""The DFT of kymatio 0.3.0's 2-D Morlet wavelets, differentiable, at a cost independent of
their shape.

kymatio (``scattering2d/filter_bank.py``) samples each Gabor on the padded grid, periodises it
by summing 5 x 5 shifted copies, subtracts a Gaussian so the Morlet has zero mean, takes the
real part of its 2-D FFT and crops that to coarser resolutions. Doing the same in torch lets
gradients reach the four parameters of every wavelet (Gauthier et al., "Parametric Scattering
Networks", CVPR 2022). Learning can make the wavelets very elongated (slant -> its floor 0.01)
or very wide or narrow (sigma), so each filter is built where it is cheap:

* **in space**, on the sheared band of pixels where its Gaussian envelope exceeds
  ``exp(-_TAIL)`` (about ``8 _TAIL sigma**2 / slant`` points), folded onto the grid (that *is*
  the periodisation) and transformed by one real FFT shared by all such filters;
* **in the Fourier domain**, in closed form: by Poisson summation the DFT of the periodised
  Gabor is its continuous Fourier transform, a Gaussian centred on ``xi (cos theta, sin
  theta)`` with widths ``1 / sigma`` along the orientation and ``slant / sigma`` across,
  summed over its aliases; the Morlet is ``G_xi - (G_xi[0] / G_0[0]) G_0``. Evaluated on the
  band where the Gaussian exceeds ``exp(-_TAIL)`` (about ``8 _TAIL slant / sigma**2 M N /
  (2 pi)**2`` points, twice) and folded.

The two counts have a fixed product, so the smaller one is ``O(M N)`` per filter for every
sigma and slant: a forward + backward of a J=2, L=8 bank at 416 x 416 takes well under a
second on one CPU thread whether the wavelets are kymatio's or degenerate. A custom autograd
Function recomputes each band in the backward pass instead of keeping every intermediate;
the exponent is evaluated in float64 (in float32 the slant gradients at slant 0.01 are off by
about 3e-4 relative).

**Exact periodisation.** Both constructions sum the wavelet over *all* its periodic copies;
kymatio sums only the 5 x 5 copies on ``[-2M, 3M) x [-2N, 3N)``. The two differ only for
wavelets wider than about twice the grid (never kymatio's own parameters, which agree to
float32 precision: ``tests/test_scattering_networks.py``); there the truncated sum is the
artefact, not the exact one.
"""

import math

import torch

__all__ = ["morlet_fourier"]

#: kymatio normalises by 2 * 3.1415 * sigma**2 / slant (sic, not pi); kept for faithfulness.
_KYMATIO_TWO_PI = 2 * 3.1415
#: A Gaussian (in space or frequency) is dropped where exp(-Q) < exp(-_TAIL): 1e-13 of its peak.
_TAIL = 30.0


def _band(a, b, d, x0, y0):
    """Integer points around (x0, y0) where ``a x^2 + 2 b x y + d y^2 <= _TAIL`` may hold.

    A sheared band of rows: for each row ``x`` the ellipse's chord is centred on ``y0 - (b /
    d)(x - x0)`` and at most ``sqrt(_TAIL / d)`` long each way, so the band holds about
    ``4 _TAIL / sqrt(a d - b^2)`` points, 4/pi of the ellipse's area, however the ellipse is
    turned (a bounding box would hold up to ``1 / slant`` times more). Returns (X, Y), int64
    tensors broadcasting to (rows, columns). Plain floats in, no gradient.
    """
    det = a * d - b * b
    hx = math.sqrt(_TAIL * d / det)
    hy = math.sqrt(_TAIL / d)
    x = torch.arange(math.floor(x0 - hx), math.ceil(x0 + hx) + 1)
    start = torch.floor(y0 - (b / d) * (x.to(torch.float64) - x0) - hy).to(torch.int64)
    y = start[:, None] + torch.arange(int(math.ceil(2 * hy)) + 2)
    return x[:, None], y


def _quadratic(theta, sigma, slant):
    """``(a, b, d)`` of the spatial envelope ``exp(-(a x^2 + 2 b x y + d y^2))``, kymatio's C."""
    c, s = torch.cos(theta), torch.sin(theta)
    g2 = slant * slant
    inv = 1.0 / (2 * sigma * sigma)
    return (c * c + g2 * s * s) * inv, c * s * (1 - g2) * inv, (s * s + g2 * c * c) * inv


def _spectral_quadratic(theta, sigma, slant, shape):
    """``(a, b, d)`` of the envelope's Fourier transform, in frequency indices (k_x, k_y).

    ``exp(-sigma**2 / 2 ((w.v)**2 + (w.v_perp)**2 / slant**2))`` with ``w = 2 pi k / (M, N)``.
    """
    M, N = shape
    c, s = torch.cos(theta), torch.sin(theta)
    along, across = 0.5 * sigma * sigma, 0.5 * sigma * sigma / (slant * slant)
    ux, uy = 2 * math.pi / M, 2 * math.pi / N
    a = (along * c * c + across * s * s) * ux * ux
    b = (along - across) * c * s * ux * uy
    d = (along * s * s + across * c * c) * uy * uy
    return a, b, d


def _plan(shape, theta, sigma, xi, slant):
    """Where to build one filter: ``"space"`` or ``"fourier"`` (plain floats in).

    The spatial band holds ``4 _TAIL / sqrt(det C) = 8 _TAIL sigma**2 / slant`` points and
    needs an FFT (counted as ``2 M N`` points: forward and backward); the Fourier one holds
    ``8 _TAIL slant / sigma**2 * M N / (2 pi)**2`` points, twice (Gabor and envelope). Their
    product is fixed, so the smaller is at most ``O(M N)`` whatever sigma and slant.
    """
    M, N = shape
    space = 8 * _TAIL * sigma * sigma / slant + 2 * M * N
    fourier = 2 * 8 * _TAIL * slant / (sigma * sigma) * M * N / (2 * math.pi) ** 2
    return "space" if space <= fourier else "fourier"


def _space_values(theta, sigma, xi, slant, points):
    """One Morlet in space, on the band ``points`` (real and imaginary parts, float64).

    ``psi(u) = g(u) (exp(i xi . u) - K) / (2 * 3.1415 * sigma**2 / slant)`` with
    ``g(u) = exp(-u^T C u)``, ``C = R diag(1, slant**2) R^T / (2 sigma**2)``, rows as the
    first coordinate, and ``K`` the constant that makes the sum over Z^2 zero (its imaginary
    part vanishes: the band is symmetric about 0).
    """
    x, y = (p.to(torch.float64) for p in points)
    a, b, d = _quadratic(theta, sigma, slant)
    env = torch.exp(-(a * x * x + 2 * b * x * y + d * y * y))
    phase = xi * (torch.cos(theta) * x + torch.sin(theta) * y)
    re, im = env * torch.cos(phase), env * torch.sin(phase)
    norm = _KYMATIO_TWO_PI * sigma * sigma / slant
    return (re - env * (re.sum() / env.sum())) / norm, im / norm


def _fourier_values(theta, sigma, xi, slant, shape, points):
    """One Gabor's and its envelope's Fourier transforms on their bands (float64).

    By Poisson summation the DFT of the periodised Gabor is its continuous Fourier transform
    summed over aliases, ``G[k] = sum_m g^(2 pi (k + m (M, N)) / (M, N))``: a Gaussian
    centred on ``xi (cos theta, sin theta)`` whose peak, with kymatio's normalisation, is
    ``pi / 3.1415``. Folding the band onto the grid does the sum over aliases.
    """
    M, N = shape
    a, b, d = _spectral_quadratic(theta, sigma, slant, shape)
    cx = xi * torch.cos(theta) * (M / (2 * math.pi))
    cy = xi * torch.sin(theta) * (N / (2 * math.pi))
    peak = 2 * math.pi / _KYMATIO_TWO_PI
    out = []
    for (x, y), (x0, y0) in zip(points, ((cx, cy), (0.0, 0.0)), strict=True):
        x, y = x.to(torch.float64) - x0, y.to(torch.float64) - y0
        out.append(peak * torch.exp(-(a * x * x + 2 * b * x * y + d * y * y)))
    return out


def _flat_index(points, shape):
    """Index of each point of a band in the flattened periodic (M, N) grid."""
    x, y = points
    return (torch.remainder(x, shape[0]) * shape[1] + torch.remainder(y, shape[1])).reshape(-1)


class _Filter:
    """One wavelet's plan: its domain and its bands' points (no gradient, plain numbers)."""

    def __init__(self, shape, device, theta, sigma, xi, slant):
        self.domain = _plan(shape, theta, sigma, xi, slant)
        t, s, g = (torch.tensor(v, dtype=torch.float64) for v in (theta, sigma, slant))
        if self.domain == "space":
            a, b, d = (float(v) for v in _quadratic(t, s, g))
            self.points = [_band(a, b, d, 0.0, 0.0)]
        else:
            a, b, d = (float(v) for v in _spectral_quadratic(t, s, g, shape))
            cx = xi * math.cos(theta) * shape[0] / (2 * math.pi)
            cy = xi * math.sin(theta) * shape[1] / (2 * math.pi)
            self.points = [_band(a, b, d, cx, cy), _band(a, b, d, 0.0, 0.0)]
        self.points = [tuple(t.to(device) for t in p) for p in self.points]
        self.index = [_flat_index(p, shape) for p in self.points]

    def half_index(self, shape):
        """Where each point of the spatial band reads a real FFT (``rfft2``) of an (M, N) grid.

        Returns the flat index into the (M, N // 2 + 1) half spectrum and whether to
        conjugate (points in the other half read ``X(-u) = conj(X(u))``).
        """
        M, N = shape
        n_half = N // 2 + 1
        x, y = (torch.remainder(p, s).expand(self.points[0][1].shape).reshape(-1)
                for p, s in zip(self.points[0], shape, strict=True))
        conj = y >= n_half
        x = torch.where(conj, torch.remainder(-x, M), x)
        y = torch.where(conj, N - y, y)
        return x * n_half + y, conj


def _zero_mean_factor(filt, gabor, envelope):
    """``K = G_xi[0] / G_0[0]``, from the band points that fold onto frequency 0."""
    g_idx, e_idx = filt.index
    return gabor[g_idx == 0].sum() / envelope[e_idx == 0].sum()


def _fourier_loss(filt, values, grad_flat):
    """``sum_k grad[k] psi^[k]`` for a Fourier-domain filter, from its two bands' values."""
    gabor, envelope = (v.reshape(-1) for v in values)
    g_idx, e_idx = filt.index
    k = _zero_mean_factor(filt, gabor, envelope)
    return (gabor * grad_flat[g_idx]).sum() - k * (envelope * grad_flat[e_idx]).sum()


class _MorletFourier(torch.autograd.Function):
    """The bank's Fourier filters, each built on its own band in its cheaper domain.

    Forward evaluates the bands without autograd (the exponent in float64: in float32 the slant
    gradients at slant 0.01 are off by about 3e-4 relative) and folds them onto the
    grid, with one batched FFT for the filters built in space. Backward recomputes each
    band with autograd, one filter at a time, against the output gradient gathered at the
    band's points (for spatial filters: the FFT of the gradient), so memory stays that of
    one band whatever the wavelets' shape.
    """

    @staticmethod
    def forward(ctx, shape, theta, sigma, xi, slant):
        M, N = shape
        params = [p.detach().to(torch.float64) for p in (theta, sigma, xi, slant)]
        filters = [
            _Filter(shape, theta.device, *(float(p[i]) for p in params)) for i in range(len(theta))
        ]
        out = theta.new_empty(len(filters), M, N)
        space = [i for i, f in enumerate(filters) if f.domain == "space"]
        # Spatial filters: Re(psi) + Im(psi), folded; see _half_to_full for why that suffices.
        windows = theta.new_zeros(len(space), M * N)
        for i, filt in enumerate(filters):
            args = [p[i] for p in params]
            if filt.domain == "space":
                re, im = _space_values(*args, filt.points[0])
                folded = (re + im).reshape(-1).to(theta.dtype)
                windows[space.index(i)].index_add_(0, filt.index[0], folded)
            else:
                values = _fourier_values(*args, shape, filt.points)
                gabor, envelope = (v.reshape(-1) for v in values)
                g_idx, e_idx = filt.index
                k = _zero_mean_factor(filt, gabor, envelope)
                flat = torch.zeros(M * N, dtype=torch.float64, device=theta.device)
                flat.index_add_(0, g_idx, gabor).index_add_(0, e_idx, -k * envelope)
                out[i] = flat.reshape(M, N)
        if space:
            out[space] = _half_to_full(torch.fft.rfft2(windows.reshape(-1, M, N)), N)
        ctx.shape, ctx.filters, ctx.space = shape, filters, space
        ctx.save_for_backward(theta, sigma, xi, slant)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        shape, filters, space = ctx.shape, ctx.filters, ctx.space
        params = ctx.saved_tensors
        grads = torch.zeros(4, len(filters), dtype=torch.float64, device=grad.device)
        grad = grad.reshape(len(filters), -1)
        if space:
            # d/d psi(u) of sum_k grad[k] Re(sum_u psi(u) e^{-i w_k.u}) is the real part of
            # FFT(grad)[u] for Re(psi), minus its imaginary part for Im(psi). grad is real,
            # so half of its FFT holds it all.
            spectra = torch.fft.rfft2(grad[space].reshape(-1, *shape)).reshape(len(space), -1)
        with torch.enable_grad():
            for i, filt in enumerate(filters):
                leaves = [p[i].detach().to(torch.float64).requires_grad_() for p in params]
                if filt.domain == "space":
                    re, im = _space_values(*leaves, filt.points[0])
                    half_index, conj = filt.half_index(shape)
                    spectrum = spectra[space.index(i)][half_index].to(torch.complex128)
                    imag = torch.where(conj, -spectrum.imag, spectrum.imag)
                    loss = (re.reshape(-1) * spectrum.real - im.reshape(-1) * imag).sum()
                else:
                    values = _fourier_values(*leaves, shape, filt.points)
                    loss = _fourier_loss(filt, values, grad[i].to(torch.float64))
                grads[:, i] = torch.stack(torch.autograd.grad(loss, leaves))
        return (None, *(g.to(p.dtype) for g, p in zip(grads, params, strict=True)))


def _half_to_full(half, N):
    """Real DFTs of Hermitian-symmetric windows from ``rfft2`` of ``Re(psi) + Im(psi)``.

    ``psi(-u) = conj(psi(u))``, so ``E = DFT(Re psi)`` is real and even and ``DFT(Im psi) =
    i O`` with ``O`` real and odd: the DFT of ``psi`` is ``E - O``, that of the real window
    ``Re psi + Im psi`` is ``H = E + i O``. So ``psi^ = Re H - Im H`` on the half spectrum
    and ``psi^(-k) = Re H(k) + Im H(k)`` on the other half: one real FFT instead of a
    complex one.
    """
    M, n_half = half.shape[-2:]
    full = half.real.new_empty(*half.shape[:-1], N)
    full[..., :n_half] = half.real - half.imag
    rest = N - n_half  # columns n_half..N-1 are -k of columns N-n_half..1 (flipped), rows -k_x
    minus_rows = torch.remainder(-torch.arange(M, device=half.device), M)
    mirrored = (half.real + half.imag)[..., minus_rows, :]
    full[..., n_half:] = mirrored[..., 1 : rest + 1].flip(-1)
    return full


def morlet_fourier(shape, theta, sigma, xi, slant):
    """2-D DFT of kymatio's Morlet wavelets, exactly periodised: (F, M, N), real.

    kymatio keeps only the real part of the DFT (the imaginary part vanishes up to its
    truncation); convolving with it is what its scattering does. Each filter is built in
    space or in the Fourier domain, on the band of points where its Gaussian matters,
    whichever holds fewer points (:func:`_plan`): time and memory are ``O(M N)`` per filter
    whatever sigma and slant. Differentiable in the four parameters (1-D tensors of
    length F); the result has their dtype.
    """
    shape = tuple(int(s) for s in shape)
    return _MorletFourier.apply(shape, theta, sigma, xi, slant)
