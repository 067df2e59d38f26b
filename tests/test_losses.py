import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from torch import nn

from srgan_sci.loss_weights import LossWeights
from srgan_sci.losses import (
    PerceptualLoss,
    discriminator_loss,
    fft_loss,
    generator_adversarial_loss,
    gradient_penalty,
    pixel_loss,
    ssim_loss,
)

PRED = torch.tensor([[[[0.0, 1.0], [2.0, -1.0]]]], dtype=torch.float64)
TARGET = torch.tensor([[[[0.5, 1.0], [0.0, 0.0]]]], dtype=torch.float64)
# differences: -0.5, 0, 2, -1


def test_pixel_l1_by_hand():
    assert pixel_loss(PRED, TARGET, "l1").item() == pytest.approx((0.5 + 0 + 2 + 1) / 4)


def test_pixel_mse_by_hand():
    assert pixel_loss(PRED, TARGET, "mse").item() == pytest.approx((0.25 + 0 + 4 + 1) / 4)


def test_pixel_charbonnier_by_hand():
    eps = 0.1
    expected = sum(math.sqrt(d * d + eps * eps) for d in (-0.5, 0.0, 2.0, -1.0)) / 4
    assert pixel_loss(PRED, TARGET, "charbonnier", eps=eps).item() == pytest.approx(expected)


def test_charbonnier_tends_to_l1_for_large_errors():
    pred = torch.full((1, 1, 4, 4), 10.0)
    target = torch.zeros_like(pred)
    charbonnier = pixel_loss(pred, target, "charbonnier", eps=1e-3).item()
    assert charbonnier == pytest.approx(pixel_loss(pred, target, "l1").item(), rel=1e-6)


def test_pixel_loss_rejects_unknown_kind_and_shape_mismatch():
    with pytest.raises(ValueError, match="unknown pixel loss"):
        pixel_loss(PRED, TARGET, "huber")
    with pytest.raises(ValueError, match="differ"):
        pixel_loss(PRED, TARGET[..., :1])


def _correlated_pair(shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.2, shape), 0, 1)
    return a, b


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_matches_skimage(dtype):
    a, b = _correlated_pair((2, 3, 40, 37), seed=3)
    expected = np.mean(
        [
            structural_similarity(
                a[n, c],
                b[n, c],
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
            )
            for n in range(2)
            for c in range(3)
        ]
    )
    loss = ssim_loss(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype), data_range=1.0)
    assert 1 - loss.item() == pytest.approx(expected, abs=1e-4)


def test_ssim_data_range_matters_and_identical_is_zero():
    a, b = _correlated_pair((1, 1, 32, 32), seed=4)
    x, y = torch.tensor(a), torch.tensor(b)
    assert ssim_loss(x, x).item() == pytest.approx(0.0, abs=1e-12)
    assert ssim_loss(x * 100, y * 100, data_range=100.0).item() == pytest.approx(
        ssim_loss(x, y).item(), rel=1e-9
    )


def test_ssim_rejects_small_images():
    with pytest.raises(ValueError, match="at least 11"):
        ssim_loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


def test_fft_loss_zero_for_identical_and_positive_otherwise():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert fft_loss(x, x).item() == 0.0
    assert fft_loss(x, x.flip(-1) * 0.5).item() > 0


def test_fft_loss_ignores_circular_shift():
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert fft_loss(x, torch.roll(x, shifts=(3, 5), dims=(-2, -1))).item() < 1e-12


def test_perceptual_loss_with_identity_features_is_pixel_l1():
    loss = PerceptualLoss(nn.Identity(), criterion="l1")
    assert loss(PRED, TARGET).item() == pytest.approx(pixel_loss(PRED, TARGET).item())
    with pytest.raises(ValueError, match="criterion"):
        PerceptualLoss(nn.Identity(), criterion="cosine")


def test_perceptual_loss_gradient_reaches_prediction():
    features = nn.Conv2d(1, 4, 3)
    pred = torch.rand(1, 1, 8, 8, requires_grad=True)
    PerceptualLoss(features, "mse")(pred, torch.rand(1, 1, 8, 8)).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def _tiny_discriminator():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(144, 1))


@pytest.mark.parametrize("kind", ["vanilla", "relativistic", "wgan-gp"])
@pytest.mark.parametrize("which", ["discriminator", "generator"])
def test_adversarial_losses_backprop_into_discriminator(kind, which):
    disc = _tiny_discriminator()
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.rand(4, 1, 8, 8, generator=gen), torch.rand(4, 1, 8, 8, generator=gen)
    fake.requires_grad_(True)
    real_logits, fake_logits = disc(real), disc(fake)
    loss_fn = discriminator_loss if which == "discriminator" else generator_adversarial_loss
    loss = loss_fn(kind, real_logits, fake_logits)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in disc.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    assert fake.grad.abs().sum() > 0


def test_vanilla_losses_signs():
    confident_real, confident_fake = torch.full((8, 1), 20.0), torch.full((8, 1), -20.0)
    assert discriminator_loss("vanilla", confident_real, confident_fake).item() < 1e-8
    assert discriminator_loss("vanilla", confident_fake, confident_real).item() > 30
    assert generator_adversarial_loss("vanilla", None, confident_fake).item() > 15
    assert generator_adversarial_loss("vanilla", None, confident_real).item() < 1e-8


def test_relativistic_losses_behaviour():
    real, fake = torch.full((8, 1), 5.0), torch.full((8, 1), -5.0)
    # D separates real from fake well: its loss small, the generator's loss large.
    assert discriminator_loss("relativistic", real, fake).item() < 1e-4
    assert generator_adversarial_loss("relativistic", real, fake).item() > 9
    # Only differences count: shifting every logit changes nothing.
    assert discriminator_loss("relativistic", real + 3, fake + 3).item() == pytest.approx(
        discriminator_loss("relativistic", real, fake).item()
    )
    # Indistinguishable logits give log 2 for both players.
    same = torch.zeros(8, 1)
    assert discriminator_loss("relativistic", same, same).item() == pytest.approx(math.log(2))
    assert generator_adversarial_loss("relativistic", same, same).item() == pytest.approx(
        math.log(2)
    )
    with pytest.raises(ValueError, match="real_logits"):
        generator_adversarial_loss("relativistic", None, fake)


def test_wgan_losses_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert discriminator_loss("wgan-gp", real, fake).item() == pytest.approx(-0.5 - 2.0)
    assert generator_adversarial_loss("wgan-gp", real, fake).item() == pytest.approx(0.5)


def test_unknown_adversarial_kind():
    with pytest.raises(ValueError, match="unknown adversarial"):
        discriminator_loss("hinge", torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="unknown adversarial"):
        generator_adversarial_loss("hinge", torch.zeros(1), torch.zeros(1))


def test_gradient_penalty_linear_critic_by_hand():
    w = torch.tensor([[[[0.5, -2.0], [1.0, 0.25]]]], dtype=torch.float64, requires_grad=True)
    data = torch.Generator().manual_seed(4)
    real = torch.rand(3, 1, 2, 2, generator=data, dtype=torch.float64)
    fake = torch.rand(3, 1, 2, 2, generator=data, dtype=torch.float64)
    penalty = gradient_penalty(lambda x: (w * x).flatten(1).sum(1), real, fake, weight=10.0)
    expected = 10.0 * (math.sqrt(0.25 + 4 + 1 + 0.0625) - 1) ** 2
    assert penalty.item() == pytest.approx(expected, rel=1e-12)
    penalty.backward()  # create_graph=True: the penalty reaches the critic's parameters
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_gradient_penalty_quadratic_critic_reproduces_alpha():
    data = torch.Generator().manual_seed(5)
    real = torch.rand(4, 2, 3, 3, generator=data, dtype=torch.float64)
    fake = torch.rand(4, 2, 3, 3, generator=data, dtype=torch.float64)
    penalty = gradient_penalty(
        lambda x: (x**2).flatten(1).sum(1), real, fake, 2.5, torch.Generator().manual_seed(42)
    )
    alpha = torch.rand((4, 1, 1, 1), generator=torch.Generator().manual_seed(42), dtype=real.dtype)
    x_hat = alpha * real + (1 - alpha) * fake
    norms = (2 * x_hat).flatten(1).square().sum(1).sqrt()
    expected = 2.5 * ((norms - 1) ** 2).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-12)


def test_gradient_penalty_trains_a_module_critic():
    disc = _tiny_discriminator()
    real, fake = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    gradient_penalty(disc, real, fake).backward()
    # The output bias does not change the input gradient, so only the weights get one.
    for weight in (disc[0].weight, disc[3].weight):
        assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_loss_weights_defaults_and_validation():
    weights = LossWeights()
    assert (weights.pixel, weights.perceptual, weights.adversarial) == (1e-2, 1.0, 5e-3)
    assert (weights.ssim, weights.fft, weights.critic_steps) == (0.0, 0.0, 1)
    assert weights.adversarial_kind == "relativistic" and weights.pixel_kind == "l1"
    with pytest.raises(ValueError, match=">= 0"):
        LossWeights(pixel=-1.0)
    with pytest.raises(ValueError, match="adversarial_kind"):
        LossWeights(adversarial_kind="hinge")
    with pytest.raises(ValueError, match="pixel_kind"):
        LossWeights(pixel_kind="l3")
    with pytest.raises(ValueError, match="critic_steps"):
        LossWeights(critic_steps=0)
