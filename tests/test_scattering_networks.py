"""The Morlet filter bank and the scattering transform: faithful to kymatio 0.3.0, differentiable."""

import numpy as np
import pytest
import torch

from skin_estimators.networks import MorletFilterBank, Scattering2D, ScatteringNet, WideResNetTop
from skin_estimators.networks._morlet import tight_frame_parameters

kymatio = pytest.importorskip("kymatio")
from kymatio.scattering2d.filter_bank import filter_bank  # noqa: E402
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D  # noqa: E402


def _assert_faithful(out, ref):
    """Error <= 1e-4 of the largest coefficient and <= 1e-3 of each channel's largest."""
    ref = ref.reshape(out.shape)
    err = (out - ref).abs()
    assert err.max() <= 1e-4 * ref.abs().max()
    per_channel = err.amax((0, 2, 3)) / ref.abs().amax((0, 2, 3))
    assert per_channel.max() <= 1e-3, per_channel.max()


@pytest.mark.parametrize(
    "shape, J, L, max_order, channels",
    [
        ((400, 400), 2, 8, 2, 3),  # the study's setting
        ((32, 32), 3, 8, 2, 3),  # small, J=3
        ((33, 45), 2, 8, 2, 2),  # odd sizes
        ((37, 29), 3, 6, 2, 1),  # odd, J=3, other L, one channel
        ((16, 16), 2, 8, 1, 5),  # first order only, any number of channels
        ((8, 8), 3, 4, 2, 3),  # padding as large as the image (kymatio's special case)
    ],
)
def test_frozen_tight_frame_equals_kymatio(shape, J, L, max_order, channels):
    torch.manual_seed(0)
    n = 1 if shape == (400, 400) else 2
    x = torch.randn(n, channels, *shape)
    ref = ScatteringTorch2D(J=J, shape=shape, L=L, max_order=max_order)(x)
    scattering = Scattering2D(J, shape, L, max_order, learnable=False)
    with torch.no_grad():
        out = scattering(x)
    K = scattering.n_coefficients
    assert K == 1 + J * L + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)
    assert out.shape == (n, channels * K, *scattering.output_shape)
    _assert_faithful(out, ref)


def test_output_shape_of_a_400px_rgb_image():
    scattering = Scattering2D(2, (400, 400), learnable=False)
    assert scattering.n_coefficients == 81
    assert (3 * scattering.n_coefficients, *scattering.output_shape) == (243, 100, 100)


def test_learnable_tight_frame_forward_is_kymatio_too():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 24, 24)
    ref = ScatteringTorch2D(J=2, shape=(24, 24), L=8)(x)
    _assert_faithful(Scattering2D(2, (24, 24), learnable=True)(x).detach(), ref)


def test_tight_frame_values_and_filters_are_kymatios():
    J, L = 3, 8
    theta, sigma, xi, slant = tight_frame_parameters(J, L)
    j, l = np.divmod(np.arange(J * L), L)
    np.testing.assert_allclose(sigma, 0.8 * 2.0**j)
    np.testing.assert_allclose(xi, 3 * np.pi / (4 * 2.0**j))
    np.testing.assert_allclose(slant, 4 / L)
    np.testing.assert_allclose(theta, (L // 2 - 1 - l) * np.pi / L)
    bank = MorletFilterBank((40, 24), J, L, learnable=False)
    for name, value in zip(("theta", "sigma", "xi", "slant"), (theta, sigma, xi, slant)):
        np.testing.assert_allclose(getattr(bank, name).numpy(), value, rtol=1e-6)
    levels = bank()
    reference = filter_bank(40, 24, J, L)["psi"]
    for n, psi in enumerate(reference):
        for res, level in enumerate(psi["levels"]):
            np.testing.assert_allclose(levels[res][n].numpy(), level, atol=1e-6 * np.abs(level).max())


def test_gradients_reach_all_four_parameters():
    torch.manual_seed(0)
    scattering = Scattering2D(2, (24, 24), learnable=True)
    x = torch.randn(2, 3, 24, 24)
    weight = torch.randn(1, 243, *scattering.output_shape)
    (scattering(x) * weight).sum().backward()
    params = dict(scattering.filters.named_parameters())
    assert sorted(params) == ["sigma", "slant", "theta", "xi"]
    for name, p in params.items():
        assert p.shape == (16,)
        assert torch.isfinite(p.grad).all(), name
        assert (p.grad != 0).all(), name


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    scattering = Scattering2D(2, (16, 16), L=4, learnable=True, initialization="random", random_state=0)
    x = torch.randn(1, 3, 16, 16)
    weight = torch.randn(1, 3 * scattering.n_coefficients, *scattering.output_shape)

    def loss():
        return (scattering(x) * weight).sum()

    loss().backward()
    for p in scattering.filters.parameters():
        analytic = p.grad[1].item()
        with torch.no_grad():
            p[1] += 1e-3
            up = loss().item()
            p[1] -= 2e-3
            down = loss().item()
            p[1] += 1e-3
        assert analytic == pytest.approx((up - down) / 2e-3, rel=0.02, abs=1e-3)


def test_half_spectrum_kernels_match_the_full_spectrum_path():
    """The memory-lean kernels (rfft2 that keeps nothing, second order that keeps the half
    spectrum) give the outputs and gradients of the plain composition."""
    from skin_estimators.networks._scattering_kernels import (
        filter_blocks,
        full_spectrum,
        half_spectrum,
        wavelet_modulus,
        wavelet_modulus_of_half,
    )

    gen = torch.Generator().manual_seed(0)
    filters = torch.rand(3, 12, 20, generator=gen, requires_grad=True)
    results = []
    for lean in (True, False):
        x = torch.randn(2, 12, 20, generator=torch.Generator().manual_seed(1), requires_grad=True)
        blocks = filter_blocks(filters, 2)
        if lean:
            out = wavelet_modulus_of_half(half_spectrum(x), 20, filters, blocks)
        else:
            out = wavelet_modulus(full_spectrum(torch.fft.rfft2(x), 20), filters, blocks)
        grads = torch.autograd.grad((out * torch.arange(out.numel()).reshape(out.shape)).sum(),
                                    (x, filters))
        results.append((out, *grads))
    for lean, plain in zip(*results):
        torch.testing.assert_close(lean, plain, rtol=1e-5, atol=1e-5)
    x = torch.randn(2, 6, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(half_spectrum, (x,))


def test_sigma_and_slant_stay_positive():
    scattering = Scattering2D(2, (16, 16), L=4, learnable=True)
    with torch.no_grad():
        scattering.filters.sigma[0] = -1.0
        scattering.filters.slant[1] = -0.5
    out = scattering(torch.randn(1, 3, 16, 16))
    assert torch.isfinite(out).all()
    assert (scattering.filters.sigma > 0).all() and (scattering.filters.slant > 0).all()


def test_frozen_bank_has_no_trainable_parameters_and_caches_its_filters():
    scattering = Scattering2D(2, (16, 16), learnable=False)
    assert list(scattering.parameters()) == []
    assert sorted(dict(scattering.filters.named_buffers())) == ["sigma", "slant", "theta", "xi"]
    assert scattering.filters() is scattering.filters()
    # a changed parameter invalidates the cached filters
    before = scattering.filters()[0].clone()
    scattering.filters.xi.mul_(0.9)
    assert not torch.equal(scattering.filters()[0], before)


def test_random_initialization_is_seeded():
    a = MorletFilterBank((16, 16), 2, 8, initialization="random", random_state=0)
    b = MorletFilterBank((16, 16), 2, 8, initialization="random", random_state=0)
    torch.testing.assert_close(a.sigma, b.sigma)
    assert ((a.sigma >= 1) & (a.sigma <= 5)).all()
    with pytest.raises(ValueError, match="initialization"):
        MorletFilterBank((16, 16), 2, 8, initialization="kymatio")


def test_invalid_scattering_parameters():
    with pytest.raises(ValueError, match="2\\*\\*J"):
        Scattering2D(3, (7, 16))
    with pytest.raises(ValueError, match="max_order"):
        Scattering2D(2, (16, 16), max_order=3)
    with pytest.raises(ValueError, match="shape"):
        Scattering2D(2, (16, 16))(torch.zeros(1, 3, 17, 16))


def test_linear_top_has_the_studys_parameter_count():
    net = ScatteringNet(input_shape=(3, 400, 400), n_classes=3)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 7_290_553
    frozen = ScatteringNet(input_shape=(3, 400, 400), n_classes=3, learnable=False)
    assert sum(p.numel() for p in frozen.parameters() if p.requires_grad) == 7_290_553 - 64


def test_wrn_top_size_and_output():
    top = WideResNetTop(243, 3)
    assert sum(p.numel() for p in top.parameters() if p.requires_grad) == 728_867
    net = ScatteringNet(input_shape=(3, 32, 32), n_classes=3, top="wrn")
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def _brute_force_morlet(shape, theta, sigma, xi, slant, tail=45.0):
    """kymatio's Morlet in float64 numpy, summed over every periodic copy that matters."""
    M, N = shape
    c, s = np.cos(theta), np.sin(theta)
    rx = int(np.ceil(np.sqrt(2 * tail * sigma**2 * (c * c + s * s / slant**2))))
    ry = int(np.ceil(np.sqrt(2 * tail * sigma**2 * (s * s + c * c / slant**2))))
    x, y = np.arange(-rx, rx + 1)[:, None], np.arange(-ry, ry + 1)[None, :]
    inv = 1 / (2 * sigma**2)
    g2 = slant**2
    a, b, d = (c * c + g2 * s * s) * inv, c * s * (1 - g2) * inv, (s * s + g2 * c * c) * inv
    env = np.exp(-(a * x * x + 2 * b * x * y + d * y * y))
    gabor = env * np.exp(1j * xi * (c * x + s * y))
    morlet = (gabor - env * (gabor.sum() / env.sum())) / (2 * 3.1415 * sigma**2 / slant)
    folded = np.zeros(shape, complex)
    np.add.at(folded, (np.remainder(x, M), np.remainder(y, N)), morlet)
    return np.fft.fft2(folded).real


# (theta, sigma, xi, slant): elongated (slant at its floor 0.01, turned and not), tiny
# (sigma 0.05..0.2), and wide; on small odd grids so that many copies overlap.
_DEGENERATE = [
    (0.3, 1.0, 2.0, 0.01),
    (1.2, 2.0, 0.7, 0.01),
    (0.0, 1.5, 1.0, 0.01),
    (2.5, 0.1, 2.5, 0.01),
    (0.7, 0.05, 1.0, 0.5),
    (-0.4, 0.2, 3.0, 1.0),
    (1.9, 0.12, 0.4, 0.3),
    (0.9, 6.0, 0.5, 0.8),
]


@pytest.mark.parametrize("shape", [(16, 12), (13, 20)])
def test_morlet_fourier_is_the_exact_periodisation_for_degenerate_wavelets(shape):
    from skin_estimators.networks._morlet import _plan, morlet_fourier

    params = [torch.tensor(v, dtype=torch.float64) for v in zip(*_DEGENERATE, strict=True)]
    out = morlet_fourier(shape, *params)
    assert out.dtype == torch.float64
    # Both constructions are exercised.
    assert {_plan(shape, *p) for p in _DEGENERATE} == {"space", "fourier"}
    for filt, p in zip(out.numpy(), _DEGENERATE, strict=True):
        expected = _brute_force_morlet(shape, *p)
        atol = 1e-10 * np.abs(expected).max()
        np.testing.assert_allclose(filt, expected, atol=atol, err_msg=str(p))


def test_morlet_fourier_float32_equals_float64():
    from skin_estimators.networks._morlet import morlet_fourier

    params = [torch.tensor(v, dtype=torch.float64) for v in zip(*_DEGENERATE, strict=True)]
    exact = morlet_fourier((16, 12), *params)
    single = morlet_fourier((16, 12), *(p.float() for p in params))
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), exact, rtol=0, atol=1e-6 * exact.abs().max().item())


def test_morlet_fourier_gradcheck():
    from skin_estimators.networks._morlet import _plan, morlet_fourier

    shape = (10, 8)
    chosen = [_DEGENERATE[i] for i in (0, 3, 4, 7)] + [(0.5, 0.8, 2.3, 0.5)]
    assert {_plan(shape, *p) for p in chosen} == {"space", "fourier"}
    params = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in zip(*chosen, strict=True)
    ]
    assert torch.autograd.gradcheck(
        lambda *p: morlet_fourier(shape, *p), params, eps=1e-6, atol=1e-6, fast_mode=True
    )


@pytest.mark.parametrize("slant, sigma", [(0.01, None), (0.01, 5.0), (None, 0.2)])
def test_degenerate_bank_stays_cheap(slant, sigma):
    # The old construction grew one window for all filters to 5M x 5N as slant fell to 0.01.
    bank = MorletFilterBank((64, 64), J=3, L=8)
    with torch.no_grad():
        if slant is not None:
            bank.slant.fill_(slant)
        if sigma is not None:
            bank.sigma.fill_(sigma)
    levels = bank()
    (levels[0].sum() + levels[1].square().sum()).backward()
    for p in bank.parameters():
        assert torch.isfinite(p.grad).all()
