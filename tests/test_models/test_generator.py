import json

import pytest
import torch

from srgan_sci.models.generator import (
    GENERATORS,
    MSRResNet,
    RRDBNet,
    build_generator,
    measure_receptive_field,
)

SCALES = (2, 3, 4, 8)


def small(cls, scale=2, in_channels=1, out_channels=1, blocks=1):
    kwargs = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "channels": 8,
        "blocks": blocks,
        "scale": scale,
    }
    if cls is RRDBNet:
        kwargs["growth"] = 8
    return cls(**kwargs)


@pytest.mark.parametrize("cls", [MSRResNet, RRDBNet])
@pytest.mark.parametrize("scale", SCALES)
def test_output_shape_per_scale(cls, scale):
    torch.manual_seed(0)
    model = small(cls, scale)
    out = model(torch.randn(2, 1, 12, 14))
    assert out.shape == (2, 1, 12 * scale, 14 * scale)
    assert model.scale == scale and torch.isfinite(out).all()


@pytest.mark.parametrize("cls", [MSRResNet, RRDBNet])
@pytest.mark.parametrize(("cin", "cout"), [(3, 3), (1, 3), (3, 1)])
def test_multichannel(cls, cin, cout):
    torch.manual_seed(0)
    model = small(cls, 2, cin, cout)
    assert (model.in_channels, model.out_channels) == (cin, cout)
    assert model(torch.randn(1, cin, 13, 12)).shape == (1, cout, 26, 24)


def test_msrresnet_global_skip_is_bilinear():
    torch.manual_seed(0)
    model = small(MSRResNet, 4)
    for param in model.conv_last.parameters():
        torch.nn.init.zeros_(param)
    x = torch.randn(1, 1, 12, 12)
    expected = torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear")
    torch.testing.assert_close(model(x), expected)
    assert not small(MSRResNet, 4, 1, 3).global_skip


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_rebuild_from_json_config(arch):
    torch.manual_seed(0)
    model = small(GENERATORS[arch], 3, 3, 3, blocks=2).eval()
    config = json.loads(json.dumps(model.config()))
    rebuilt = build_generator(arch, config).eval()
    assert type(rebuilt) is type(model) and rebuilt.config() == model.config()
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 12, 12)
    torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)
    assert type(model)(**model.config()).config() == config


@pytest.mark.parametrize("cls", [MSRResNet, RRDBNet])
def test_backprop_reaches_every_parameter(cls):
    torch.manual_seed(0)
    model = small(cls, 4, blocks=2)
    model(torch.randn(2, 1, 12, 12)).square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("cls", [MSRResNet, RRDBNet])
@pytest.mark.parametrize("scale", SCALES)
def test_receptive_field_bound(cls, scale):
    torch.manual_seed(0)
    for blocks in (1, 2) if cls is MSRResNet else (1,):
        model = small(cls, scale, blocks=blocks)
        measured = measure_receptive_field(model)
        assert measured <= model.receptive_field_radius
        # The analytic bound is tight for these architectures.
        assert measured == model.receptive_field_radius


def test_receptive_field_formulas():
    for scale in SCALES:
        assert small(MSRResNet, scale, blocks=3).receptive_field_radius == 9
        assert small(RRDBNet, scale, blocks=2).receptive_field_radius == (33 if scale == 3 else 34)


def crop_error(model, halo):
    """Largest difference between a tile's interior and the same region of the full output."""
    s = model.scale
    x = torch.randn(1, 1, 2 * halo + 12, 2 * halo + 10, dtype=torch.float64)
    with torch.no_grad():
        full = model(x)
        tile = model(x[..., 2 : 2 * halo + 10, 3 : 2 * halo + 8])
    # the tile's interior holds input rows [2 + halo, 10 + halo), cols [3 + halo, 8 + halo)
    inner = tile[..., halo * s : (halo + 8) * s, halo * s : (halo + 5) * s]
    expected = full[..., (2 + halo) * s : (10 + halo) * s, (3 + halo) * s : (8 + halo) * s]
    return float((inner - expected).abs().max())


@pytest.mark.parametrize(("cls", "scale"), [(MSRResNet, 3), (RRDBNet, 4)])
def test_halo_gives_exact_tiles(cls, scale):
    """A crop with a halo of receptive_field_radius reproduces the full output inside it."""
    torch.manual_seed(0)
    model = small(cls, scale).double().eval()
    # Undo the 0.1-scaled initialisation so that far pixels visibly change the output.
    for param in model.parameters():
        torch.nn.init.normal_(param, std=0.15)
    halo = model.receptive_field_radius
    assert crop_error(model, halo) < 1e-12
    assert crop_error(model, halo - 1) > 1e-9


def test_measure_rejects_too_small_input():
    model = small(MSRResNet, 2)
    with pytest.raises(ValueError, match="larger size"):
        measure_receptive_field(model, size=model.receptive_field_radius)


def test_measure_leaves_model_untouched():
    model = small(MSRResNet, 2).train()
    measure_receptive_field(model)
    assert model.training and next(model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("cls", [MSRResNet, RRDBNet])
@pytest.mark.parametrize("scale", [1, 5, 16])
def test_invalid_scale(cls, scale):
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 8\)"):
        cls(scale=scale)


def test_invalid_sizes_and_inputs():
    with pytest.raises(ValueError, match="channels"):
        MSRResNet(channels=0)
    with pytest.raises(ValueError, match="blocks"):
        RRDBNet(blocks=1.5)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        small(MSRResNet)(torch.zeros(1, 3, 8, 8))


def test_build_generator_errors():
    assert set(GENERATORS) == {"msrresnet", "rrdb"}
    with pytest.raises(ValueError, match=r"msrresnet.*rrdb"):
        build_generator("edsr", {})
    with pytest.raises(TypeError):
        build_generator("msrresnet", {"growth": 8})


def test_bias_free_msrresnet_output_scales_with_the_input():
    torch.manual_seed(0)
    free = MSRResNet(channels=8, blocks=2, scale=4, bias=False).eval()
    assert not any(name.endswith("bias") for name, _ in free.named_parameters())
    for module in free.modules():  # trained weights, not the near-identity initialisation
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, std=0.3)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        reference = free(x)
        tolerance = 1e-5 * float(reference.abs().max())
        for factor in (0.01, 3.7, 250.0):
            torch.testing.assert_close(
                free(factor * x) / factor, reference, rtol=1e-4, atol=tolerance
            )
        biased = MSRResNet(channels=8, blocks=2, scale=4).eval()
        for module in biased.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.normal_(module.bias, std=0.3)
        assert not torch.allclose(biased(3.7 * x), 3.7 * biased(x), rtol=1e-3)
    rebuilt = build_generator("msrresnet", json.loads(json.dumps(free.config())))
    assert rebuilt.config()["bias"] is False
    with pytest.raises(ValueError, match="bias must be true or false"):
        MSRResNet(bias=0)
