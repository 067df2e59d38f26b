import json

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from srgan_sci.models.discriminator import (
    DISCRIMINATORS,
    UNetDiscriminator,
    VGGPatchDiscriminator,
    build_discriminator,
)

SIZES = [(16, 16), (24, 24), (40, 56), (17, 30)]


def convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("norm", ["batch", "none", "spectral"])
@pytest.mark.parametrize("size", SIZES)
def test_vgg_patch_logit_shape(norm, size):
    torch.manual_seed(0)
    model = VGGPatchDiscriminator(in_channels=1, channels=8, norm=norm)
    out = model(torch.randn(2, 1, *size))
    assert out.shape == (2, 1, size[0] // 16, size[1] // 16)


@pytest.mark.parametrize(
    ("depth", "size", "expected"), [(2, (12, 20), (3, 5)), (3, (9, 40), (1, 5))]
)
def test_vgg_depth_and_channels(depth, size, expected):
    torch.manual_seed(0)
    model = VGGPatchDiscriminator(in_channels=3, channels=8, depth=depth)
    assert model(torch.randn(1, 3, *size)).shape == (1, 1, *expected)
    assert model.min_size == 2**depth


def test_vgg_too_small_input():
    model = VGGPatchDiscriminator(channels=8)
    with pytest.raises(ValueError, match=">= 16"):
        model(torch.randn(1, 1, 15, 32))


@pytest.mark.parametrize("size", [(8, 8), (16, 24), (40, 56), (13, 21)])
@pytest.mark.parametrize("channels_in", [1, 3])
def test_unet_pixel_logit_shape(size, channels_in):
    torch.manual_seed(0)
    model = UNetDiscriminator(in_channels=channels_in, channels=8)
    out = model(torch.randn(2, channels_in, *size))
    assert out.shape == (2, 1, *size)


def test_unet_too_small_input():
    with pytest.raises(ValueError, match=">= 8"):
        UNetDiscriminator(channels=8)(torch.randn(1, 1, 7, 16))


def test_spectral_norm_present_when_requested():
    vgg = VGGPatchDiscriminator(channels=8, norm="spectral")
    assert all(parametrize.is_parametrized(conv, "weight") for conv in convs(vgg))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in vgg.modules())
    for norm in ("batch", "none"):
        vgg = VGGPatchDiscriminator(channels=8, norm=norm)
        assert not any(parametrize.is_parametrized(conv) for conv in convs(vgg))

    unet = UNetDiscriminator(channels=8, spectral=True)
    flags = [parametrize.is_parametrized(conv, "weight") for conv in convs(unet)]
    assert sum(flags) == len(flags) - 2  # all but the first and the last
    unet = UNetDiscriminator(channels=8, spectral=False)
    assert not any(parametrize.is_parametrized(conv) for conv in convs(unet))


@pytest.mark.parametrize("norm", ["none", "spectral"])
def test_wgan_critic_has_no_batch_norm(norm):
    model = VGGPatchDiscriminator(channels=8, norm=norm)
    assert not model.uses_batch_norm
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert VGGPatchDiscriminator(channels=8, norm="batch").uses_batch_norm
    assert not UNetDiscriminator(channels=8).uses_batch_norm


def test_wgan_critic_gives_per_sample_input_gradients():
    """Without batch norm, one sample's logits do not depend on another sample."""
    torch.manual_seed(0)
    model = VGGPatchDiscriminator(channels=8, norm="none")
    x = torch.randn(3, 1, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x)[0].sum(), x)
    assert grad[0].abs().sum() > 0
    assert grad[1:].abs().sum() == 0


@pytest.mark.parametrize(
    "model",
    [
        VGGPatchDiscriminator(channels=8, norm="batch"),
        VGGPatchDiscriminator(channels=8, norm="spectral"),
        UNetDiscriminator(channels=8),
    ],
    ids=["vgg-batch", "vgg-spectral", "unet"],
)
def test_backprop(model):
    torch.manual_seed(0)
    x = torch.randn(2, 1, 24, 32, requires_grad=True)
    model(x).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize(
    ("arch", "config"),
    [
        ("vgg", {"in_channels": 3, "channels": 8, "norm": "spectral", "depth": 3}),
        ("unet", {"in_channels": 3, "channels": 8, "spectral": True}),
    ],
)
def test_rebuild_from_json_config(arch, config):
    torch.manual_seed(0)
    model = build_discriminator(arch, config).eval()
    assert isinstance(model, DISCRIMINATORS[arch]) and model.config() == config
    rebuilt = build_discriminator(arch, json.loads(json.dumps(model.config()))).eval()
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 24, 24)
    torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)


def test_build_discriminator_errors():
    assert set(DISCRIMINATORS) == {"vgg", "unet"}
    with pytest.raises(ValueError, match=r"unet.*vgg"):
        build_discriminator("patchgan", {})
    with pytest.raises(ValueError, match="norm"):
        VGGPatchDiscriminator(norm="instance")
    with pytest.raises(ValueError, match="depth"):
        VGGPatchDiscriminator(depth=0)
    with pytest.raises(TypeError):
        build_discriminator("unet", {"norm": "batch"})
