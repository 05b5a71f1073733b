"""The autograd kernels of the scattering transform: Fourier-domain products, modulus, spectra.

Each public function here computes one step of :class:`Scattering2D` in the fastest way
found on the CPU, and has a hand-written backward pass (a ``torch.autograd.Function``) used
only when a gradient is needed: :func:`_dispatch` picks one or the other. See the module
docstring of ``_scattering.py`` for why each one is written the way it is.
"""

import torch

__all__ = [
    "filter_blocks",
    "filter_subsample",
    "full_spectrum",
    "half_spectrum",
    "modulus",
    "wavelet_modulus",
    "wavelet_modulus_of_half",
    "weighted_blocks",
]

#: Working-set size that fits a core's L2 cache, for the loops that accumulate in place.
_CACHE_BYTES = 512 * 1024
#: Slices of at least this many elements are accumulated one at a time (in place); smaller
#: ones are multiplied in batches of about _BATCHED_SLICES_BYTES and summed (fewer calls).
_LARGE_SLICE_ELEMENTS = 1 << 16
_BATCHED_SLICES_BYTES = 4 << 20


def _dispatch(function, plain, args, plain_args=None):
    """``function.apply(*args)`` when autograd must see the step, else ``plain(*plain_args)``.

    The hand-written backward passes cost bookkeeping (saved tensors) that inference and
    frozen filters do not need: a gradient is needed only when grad mode is on and one of
    the tensor arguments requires it.
    """
    if torch.is_grad_enabled() and any(
            isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return function.apply(*args)
    return plain(*(args if plain_args is None else plain_args))


def _blocks(y, k):
    """View (..., M, N) as (..., k, M/k, k, N/k): the blocks that ``subsample_fourier`` averages."""
    M, N = y.shape[-2:]
    return y.reshape(y.shape[:-2] + (k, M // k, k, N // k))


def filter_blocks(filters, k):
    """Complex copies of real Fourier filters (F, M, N), laid out as contiguous blocks.

    Returns (k, k, F, M/k, N/k): block (i, j) holds the frequencies that
    ``subsample_fourier`` by k folds onto each other. Contiguous blocks make the products
    below about a third faster than strided views.
    """
    blocks = _blocks(filters.detach(), k).permute(1, 3, 0, 2, 4)
    return blocks.to(torch.complex64).contiguous()


def _filter_subsample_forward(spectrum, blocks):
    k = blocks.shape[0]
    a = _blocks(spectrum.unsqueeze(-3), k)
    out = a[..., 0, :, 0, :] * blocks[0, 0]
    for i in range(k):
        for j in range(k):
            if i or j:
                out.addcmul_(a[..., i, :, j, :], blocks[i, j])
    return out


def _filter_subsample_backward(grad, spectrum, blocks, needs):
    """Gradients of :func:`filter_subsample` w.r.t. the spectrum and the (real) filters."""
    k, _, n_filters = blocks.shape[:3]
    grad_s = grad_f = None
    if needs[0]:
        # d/d spectrum: sum over the filters of grad * filter (filters are real). The
        # accumulator is cut into pieces that stay in the CPU's L2 cache while the filters
        # are summed into them (five times faster than whole-tensor passes at 400x400).
        grad_s = spectrum.new_empty(spectrum.shape)
        gs = _blocks(grad_s.reshape(-1, *spectrum.shape[-2:]), k)
        g = grad.reshape(-1, *grad.shape[-3:])
        step = max(1, _CACHE_BYTES // (g[0, 0].numel() * g.element_size()))
        for i in range(k):
            for j in range(k):
                block = blocks[i, j]
                for c in range(0, g.shape[0], step):
                    acc = torch.mul(g[c : c + step, 0], block[0], out=gs[c : c + step, i, :, j, :])
                    for f in range(1, n_filters):
                        acc.addcmul_(g[c : c + step, f], block[f])
    if needs[1]:
        # d/d filter (real): Re(conj(spectrum) * grad), summed over everything else.
        g = torch.view_as_real(grad).reshape(-1, *grad.shape[-3:], 2)
        s = torch.view_as_real(spectrum).reshape(-1, *spectrum.shape[-2:], 2)
        m, n = grad.shape[-2:]
        grad_f = g.new_empty((n_filters, k * m, k * n))
        gf = _blocks(grad_f, k)
        # Large slices: accumulate in place; many small ones: fewer, bigger operations.
        step = (1 if g[0].numel() >= _LARGE_SLICE_ELEMENTS
                else max(1, _BATCHED_SLICES_BYTES // (g.element_size() * g[0].numel())))
        for i in range(k):
            for j in range(k):
                block = s[:, i * m : (i + 1) * m, j * n : (j + 1) * n].unsqueeze(1)
                if step == 1:
                    acc = g[0] * block[0]
                    for c in range(1, g.shape[0]):
                        acc.addcmul_(g[c], block[c])
                else:
                    acc = None
                    for c in range(0, g.shape[0], step):
                        part = (g[c : c + step] * block[c : c + step]).sum(0)
                        acc = part if acc is None else acc.add_(part)
                torch.add(acc[..., 0], acc[..., 1], out=gf[:, i, :, j, :])
    return grad_s, grad_f


class _FilterSubsample(torch.autograd.Function):
    """Autograd for :func:`filter_subsample`, written out to keep the backward pass lean.

    torch's own backward of the broadcast products would materialise the full
    (..., F, M/k, N/k) product per block and reduce it over strided dimensions; here each
    gradient is accumulated in place, which is several times faster on the CPU.
    """

    @staticmethod
    def forward(ctx, spectrum, filters, blocks):
        ctx.save_for_backward(spectrum, blocks)
        return _filter_subsample_forward(spectrum, blocks)

    @staticmethod
    def backward(ctx, grad):
        spectrum, blocks = ctx.saved_tensors
        return (*_filter_subsample_backward(grad, spectrum, blocks, ctx.needs_input_grad), None)


class _WaveletModulus(torch.autograd.Function):
    """``|ifft2(filter_subsample(...))|`` that keeps nothing but its inputs for backward.

    The complex wavelet responses are the largest tensors of a training step (for the
    second order, 64 complex maps per input channel); recomputing them in the backward
    pass costs one product and one inverse FFT, and saves storing them.
    """

    @staticmethod
    def forward(ctx, spectrum, filters, blocks):
        ctx.save_for_backward(spectrum, blocks)
        return _wavelet_modulus(spectrum, blocks)

    @staticmethod
    def backward(ctx, grad):
        spectrum, blocks = ctx.saved_tensors
        return (*_wavelet_modulus_backward(grad, spectrum, blocks, ctx.needs_input_grad[:2]),
                None)


def _wavelet_modulus_backward(grad, spectrum, blocks, needs):
    """Gradients of ``|ifft2(filter_subsample(spectrum, ., blocks))|`` w.r.t. the spectrum
    and the filters, recomputing the complex responses."""
    z = torch.fft.ifft2(_filter_subsample_forward(spectrum, blocks))
    # d|z| = Re(conj(z / |z|) dz); then the adjoint of ifft2 is fft2 / (M N).
    grad_p = torch.fft.fft2(_scale(z, _inverse_modulus_times(z, grad)), norm="forward")
    return _filter_subsample_backward(grad_p, spectrum, blocks, needs)


class _WaveletModulusOfHalf(torch.autograd.Function):
    """:class:`_WaveletModulus` of the full spectrum of a half spectrum (``rfft2``), saving the half.

    The full spectrum is rebuilt (Hermitian symmetry) in the forward pass and again in the
    backward one; only the half, a little over half its size, is kept in between.
    """

    @staticmethod
    def forward(ctx, half, n_cols, filters, blocks):
        ctx.n_cols = n_cols
        ctx.save_for_backward(half, blocks)
        return _wavelet_modulus(_complete(half, n_cols), blocks)

    @staticmethod
    def backward(ctx, grad):
        half, blocks = ctx.saved_tensors
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[2])
        grad_s, grad_f = _wavelet_modulus_backward(grad, _complete(half, ctx.n_cols), blocks,
                                                   needs)
        grad_half = None if grad_s is None else _complete_adjoint(grad_s)
        return grad_half, None, grad_f, None


def _wavelet_modulus(spectrum, blocks):
    return _modulus(torch.fft.ifft2(_filter_subsample_forward(spectrum, blocks)))


def _scale(z, factor):
    """z * factor in place, for complex z and real factor of z's shape.

    Multiplying the real and imaginary parts separately is five times faster on the CPU
    than torch's mixed complex-by-real product.
    """
    parts = torch.view_as_real(z)
    parts[..., 0].mul_(factor)
    parts[..., 1].mul_(factor)
    return z


def filter_subsample(spectrum, filters, blocks):
    """``subsample_fourier(spectrum[..., None, :, :] * filters, k)`` without the big product.

    ``spectrum`` (..., M, N) complex; ``filters`` (F, M, N) real, already divided by
    ``k**2``, and ``blocks`` the same from :func:`filter_blocks` (what the products use).
    Returns (..., F, M/k, N/k). The product is accumulated block by block, so only the
    subsampled result is ever stored (torch's reductions over strided block dimensions
    are several times slower than these in-place multiply-adds).
    """
    return _dispatch(_FilterSubsample, _filter_subsample_forward, (spectrum, filters, blocks),
                     plain_args=(spectrum, blocks))


def wavelet_modulus(spectrum, filters, blocks, recompute=True):
    """``|ifft2(filter_subsample(spectrum, filters, blocks))|``: a wavelet transform's modulus.

    With ``recompute``, the complex responses are recomputed in the backward pass rather
    than stored (less memory for one more product and inverse FFT); otherwise their
    phase is stored (see :class:`_Modulus`).
    """
    if recompute:
        return _dispatch(_WaveletModulus, _wavelet_modulus, (spectrum, filters, blocks),
                         plain_args=(spectrum, blocks))
    return modulus(torch.fft.ifft2(filter_subsample(spectrum, filters, blocks)))


class _Modulus(torch.autograd.Function):
    """|z| of a complex tensor, with kymatio's gradient convention: 0 where z = 0.

    Computed as sqrt(re * re + im * im) on the real view, about three times faster on the
    CPU than ``torch.abs`` (which calls hypot). The backward pass needs only the phase
    z / |z|, which is kept as float16 pairs: half the memory of z in complex64,
    for a relative error of the gradient near 1e-4 (far below the noise of SGD).
    """

    @staticmethod
    def forward(ctx, z):
        out = _modulus(z)
        phase = torch.view_as_real(z) / out.unsqueeze(-1)
        ctx.save_for_backward(phase.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0).half())
        return out

    @staticmethod
    def backward(ctx, grad):
        (phase,) = ctx.saved_tensors
        return _scale(torch.view_as_complex(phase.float()), grad)


def wavelet_modulus_of_half(half, n_cols, filters, blocks):
    """:func:`wavelet_modulus` (recomputing) of ``full_spectrum(half, n_cols)``.

    Keeps only the half spectrum for the backward pass: at 400x400 that is 64 MB less
    per batch of four RGB images than keeping the full one.
    """
    return _dispatch(_WaveletModulusOfHalf,
                     lambda *_: _wavelet_modulus(_complete(half, n_cols), blocks),
                     (half, n_cols, filters, blocks))


def _inverse_modulus_times(z, grad):
    """grad / |z|, and 0 where z = 0 (kymatio's subgradient)."""
    parts = torch.view_as_real(z)
    re, im = parts[..., 0], parts[..., 1]
    scale = re.square().addcmul_(im, im).rsqrt_().mul_(grad)
    return scale.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)


def _modulus(z):
    parts = torch.view_as_real(z)
    re, im = parts[..., 0], parts[..., 1]
    # square() of the strided real part is several times faster than mul(re, re) here.
    return re.square().addcmul_(im, im).sqrt_()


def modulus(z):
    """Complex modulus, differentiable (subgradient 0 at 0)."""
    return _dispatch(_Modulus, _modulus, (z,))


def _complete(half, n_cols):
    out = half.new_empty(half.shape[:-1] + (n_cols,))
    n_half = half.shape[-1]
    out[..., :n_half] = half
    # X[r, c] = conj(X[-r, N - c]) for the columns that rfft2 leaves out.
    mirrored = half[..., 1 : n_cols - n_half + 1].flip((-2, -1))
    out[..., n_half:] = torch.roll(mirrored, 1, -2).conj()
    return out


def _complete_adjoint(grad):
    """The gradient w.r.t. the half spectrum of one w.r.t. the full spectrum (:func:`_complete`)."""
    n_half = (grad.shape[-1] + 2) // 2
    width = grad.shape[-1] - n_half
    out = grad[..., :n_half].clone()
    mirrored = torch.roll(grad[..., n_half:].conj(), -1, -2).flip((-2, -1))
    out[..., 1 : width + 1] += mirrored
    return out


class _FullSpectrum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, half, n_cols):
        return _complete(half, n_cols)

    @staticmethod
    def backward(ctx, grad):
        return _complete_adjoint(grad), None


class _HalfSpectrum(torch.autograd.Function):
    """``rfft2`` that keeps nothing for the backward pass.

    torch's own ``rfft2`` keeps its real input alive until the backward pass (at 400x400,
    the first-order modulus: 64 MB per batch of four RGB images) although the adjoint needs
    only its shape: the gradient is ``Re(F^H g)``, ``g`` the gradient of the half spectrum
    padded with zeros to the full width.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.n_cols = x.shape[-1]
        return torch.fft.rfft2(x)

    @staticmethod
    def backward(ctx, grad):
        full = grad.new_zeros(grad.shape[:-1] + (ctx.n_cols,))
        full[..., : grad.shape[-1]] = grad
        return torch.fft.ifft2(full, norm="forward").real


def half_spectrum(x):
    """``torch.fft.rfft2(x)`` of a real tensor; its backward pass keeps no copy of ``x``."""
    return _dispatch(_HalfSpectrum, torch.fft.rfft2, (x,))


def full_spectrum(half, n_cols):
    """The full 2-D DFT of a real signal from its ``rfft2`` (Hermitian symmetry).

    ``torch.fft.fft2`` of a real tensor does the same, but several times slower on the CPU.
    """
    return _dispatch(_FullSpectrum, _complete, (half, n_cols))


def _weighted_blocks(spectrum, phi, k):
    n_half = phi.shape[-1]
    y = _blocks(spectrum, k)[..., :n_half]
    z = y[..., 0, :, 0, :] * phi[0, :, 0]
    for i in range(k):
        for j in range(k):
            if i or j:
                z = z.addcmul_(y[..., i, :, j, :], phi[i, :, j])
    return z


class _WeightedBlocks(torch.autograd.Function):
    """Autograd of :func:`_weighted_blocks`: one zero fill, not one per block."""

    @staticmethod
    def forward(ctx, spectrum, phi, k):
        ctx.k, ctx.shape = k, spectrum.shape
        ctx.save_for_backward(phi)
        return _weighted_blocks(spectrum, phi, k)

    @staticmethod
    def backward(ctx, grad):
        (phi,) = ctx.saved_tensors
        k = ctx.k
        out = grad.new_zeros(ctx.shape)
        blocks = _blocks(out, k)[..., : phi.shape[-1]]
        for i in range(k):
            for j in range(k):
                # phi is real-valued: its conjugate is itself.
                torch.mul(grad, phi[i, :, j], out=blocks[..., i, :, j, :])
        return out, None, None


def weighted_blocks(spectrum, phi, k):
    """``subsample_fourier(spectrum * phi)``, restricted to the columns of a half spectrum.

    ``phi`` is given as its blocks (k, M/k, k, n_half), already divided by ``k**2``.
    """
    # phi is a fixed buffer: only the spectrum's gradient is ever needed.
    if torch.is_grad_enabled() and spectrum.requires_grad:
        return _WeightedBlocks.apply(spectrum, phi, k)
    return _weighted_blocks(spectrum, phi, k)
