import json

import pytest

from srgan_sci.degrade.spec import PRESETS, DegradationSpec, SpecError, preset


@pytest.mark.parametrize(
    "name", ["widefield-lowlight", "confocal", "ground-seeing", "space-diffraction"]
)
def test_presets_load_and_round_trip_through_json(name):
    spec = preset(name)
    assert spec.name == name and spec.scale == 4 and spec.notes
    restored = DegradationSpec.from_dict(json.loads(spec.to_json()))
    assert restored == spec


def test_binning_rule_per_preset_is_documented_choice():
    assert PRESETS["ground-seeing"].binning == "sum"
    assert PRESETS["widefield-lowlight"].binning == "mean"


def test_overrides_ignore_none_and_validate():
    spec = preset("confocal").with_overrides(scale=2, photons=None, read_noise=3.0)
    assert spec.scale == 2 and spec.photons == 200.0 and spec.read_noise == 3.0
    with pytest.raises(SpecError, match="gain must be positive"):
        spec.with_overrides(gain=0.0)


def test_unknown_preset_and_fields_are_errors():
    with pytest.raises(SpecError, match="choose one of"):
        preset("hubble")
    data = preset("confocal").to_dict() | {"colour": "red"}
    with pytest.raises(SpecError, match="colour"):
        DegradationSpec.from_dict(data)
