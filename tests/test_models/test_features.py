import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy.ndimage import gaussian_filter

from srgan_sci.errors import SrsciError, UnsupportedFormatError
from srgan_sci.models.features import (
    WEIGHTS_ENV_VAR,
    FeatureWeightsError,
    FeatureWeightsMismatchError,
    RandomFeatures,
    VGG19Features,
    build_feature_extractor,
)


@pytest.fixture(scope="module")
def vgg() -> VGG19Features:
    return VGG19Features(seed=7)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))


def _same_output(a: torch.nn.Module, b: torch.nn.Module, image: torch.Tensor) -> bool:
    return torch.equal(a(image), b(image))


# --- RandomFeatures ---------------------------------------------------------------------


def test_random_features_same_seed_same_weights_and_output(image):
    a, b = RandomFeatures(1), RandomFeatures(1)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert _same_output(a, b, image)
    assert not torch.equal(a.body[0].weight, RandomFeatures(1, seed=1).body[0].weight)


def test_random_features_leave_global_rng_alone():
    state = torch.get_rng_state()
    RandomFeatures(3)
    assert torch.equal(state, torch.get_rng_state())


def test_random_features_frozen_but_differentiable(image):
    net = RandomFeatures(1)
    net.train()
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())
    pred = image.clone().requires_grad_(True)
    net(pred).abs().mean().backward()
    assert pred.grad.abs().sum() > 0


@pytest.mark.parametrize("in_channels", [1, 2, 5])
def test_random_features_any_channels_and_shape(in_channels):
    out = RandomFeatures(in_channels)(torch.rand(2, in_channels, 48, 40))
    assert out.shape == (2, 256, 3, 3)
    with pytest.raises(ValueError, match=f"expected \\(N, {in_channels}"):
        RandomFeatures(in_channels)(torch.rand(2, in_channels + 1, 48, 40))


def test_random_features_blur_versus_noise_of_equal_mse():
    # Two perturbations with the same pixel MSE: a Gaussian blur and white noise.  A pixel
    # loss cannot tell them apart; the features must see both, deterministically.
    yy, xx = np.mgrid[:64, :64]
    scene = ((xx // 8 + yy // 8) % 2) * 0.8 + 0.1 + 0.05 * np.sin(xx / 3.0)
    blurred = gaussian_filter(scene, 1.0)
    mse = np.mean((blurred - scene) ** 2)
    noisy = scene + np.random.default_rng(0).normal(0, np.sqrt(mse), scene.shape)

    def as_tensor(a):
        return torch.tensor(a, dtype=torch.float32)[None, None]

    def distances(net):
        ref = net(as_tensor(scene))
        return [(net(as_tensor(a)) - ref).abs().mean().item() for a in (blurred, noisy)]

    blur_distance, noise_distance = distances(RandomFeatures(1))
    assert blur_distance > 0 and noise_distance > 0
    assert distances(RandomFeatures(1)) == [blur_distance, noise_distance]
    print(f"equal MSE {mse:.3g}: blur {blur_distance:.4g}, noise {noise_distance:.4g}")


# --- VGG19Features ----------------------------------------------------------------------


def test_vgg19_state_dict_uses_torchvision_keys(vgg):
    keys = list(vgg.state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"]
    assert keys[-1] == "features.34.bias" and len(keys) == 32
    assert vgg.state_dict()["features.34.weight"].shape == (512, 512, 3, 3)


def test_vgg19_conv5_4_shape_for_single_channel(vgg, image):
    assert vgg(torch.rand(1, 1, 64, 64)).shape == (1, 512, 4, 4)
    # One channel is replicated, so it equals the three-channel copy.
    assert torch.equal(vgg(image), vgg(image.expand(-1, 3, -1, -1)))


def test_vgg19_conv5_4_is_before_relu(image):
    pre = VGG19Features("conv5_4")(image)
    post = VGG19Features("relu5_4")(image)
    assert (pre < 0).any() and torch.equal(torch.relu(pre), post)


def test_vgg19_other_layer_and_bad_layer(image):
    assert VGG19Features("conv2_2")(image).shape == (1, 128, 16, 16)
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        VGG19Features("conv6_1")
    with pytest.raises(ValueError, match="1 or 3"):
        VGG19Features("conv1_1")(torch.rand(1, 2, 16, 16))


def test_vgg19_frozen(vgg):
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_vgg19_from_file_round_trip(tmp_path, vgg, image, suffix):
    path = tmp_path / f"vgg19{suffix}"
    state = {k: v.contiguous() for k, v in vgg.state_dict().items()}
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    loaded = VGG19Features.from_file(path)
    assert _same_output(loaded, vgg, image)
    assert not _same_output(VGG19Features(seed=8), vgg, image)


def test_vgg19_from_env_var(tmp_path, monkeypatch, vgg, image):
    path = tmp_path / "weights.pt"
    torch.save(vgg.state_dict(), path)
    monkeypatch.setenv(WEIGHTS_ENV_VAR, str(path))
    assert _same_output(VGG19Features.from_file(), vgg, image)
    assert _same_output(build_feature_extractor("vgg19"), vgg, image)


def test_vgg19_accepts_unprefixed_keys_and_ignores_classifier(tmp_path, vgg, image):
    state = {k.removeprefix("features."): v for k, v in vgg.state_dict().items()}
    path = tmp_path / "bare.pth"
    torch.save(state, path)
    assert _same_output(VGG19Features.from_file(path), vgg, image)
    full = dict(vgg.state_dict())
    full["classifier.0.weight"] = torch.zeros(4, 2)
    full["classifier.0.bias"] = torch.zeros(4)
    torch.save(full, path)
    assert _same_output(VGG19Features.from_file(path), vgg, image)


def test_vgg19_missing_file_message(tmp_path, monkeypatch):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FeatureWeightsError) as info:
        VGG19Features.from_file(missing)
    message = str(info.value)
    assert "\n" not in message and str(missing) in message and "nothing is downloaded" in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, SrsciError)

    monkeypatch.setenv(WEIGHTS_ENV_VAR, str(missing))
    with pytest.raises(FeatureWeightsError, match=WEIGHTS_ENV_VAR):
        build_feature_extractor("vgg19", layer="conv3_4")
    monkeypatch.delenv(WEIGHTS_ENV_VAR)
    with pytest.raises(FeatureWeightsError, match=f"set {WEIGHTS_ENV_VAR}.*nothing is down"):
        VGG19Features.from_file()


def test_vgg19_missing_and_unexpected_keys(tmp_path, vgg):
    state = dict(vgg.state_dict())
    del state["features.34.weight"]
    state["features.99.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(FeatureWeightsMismatchError, match=r"1 missing.*features\.34\.weight"):
        VGG19Features.from_file(path)
    with pytest.raises(FeatureWeightsMismatchError, match=r"1 unexpected.*features\.99\.weight"):
        VGG19Features.from_file(path)


def test_vgg19_wrong_shape_and_format(tmp_path, vgg):
    state = dict(vgg.state_dict())
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / "gray.pth"
    torch.save(state, path)
    with pytest.raises(FeatureWeightsMismatchError, match="wrong shapes"):
        VGG19Features.from_file(path)
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"x")
    with pytest.raises(UnsupportedFormatError, match=r"\.safetensors"):
        VGG19Features.from_file(bad)


# --- build_feature_extractor ------------------------------------------------------------


def test_build_feature_extractor_kinds():
    assert isinstance(build_feature_extractor(in_channels=2), RandomFeatures)
    with pytest.raises(ValueError, match="weights only apply"):
        build_feature_extractor("random", weights="x.pth")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        build_feature_extractor("vgg19", in_channels=4)
    with pytest.raises(ValueError, match="unknown feature extractor"):
        build_feature_extractor("resnet")
