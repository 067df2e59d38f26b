"""A real image (scikit-image's `moon`) degraded by a preset, written as FITS files."""

import numpy as np
import pytest
from astropy.io import fits
from skimage import data

from srgan_sci.baselines import upscale_baseline
from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.spec import preset


@pytest.fixture(scope="session")
def moon_case(tmp_path_factory):
    """Truth, LR and a Lanczos "prediction" of `moon` through the confocal preset at x2."""
    folder = tmp_path_factory.mktemp("moon")
    spec = preset("confocal").with_overrides(scale=2)
    image = data.moon().astype(np.float32)[:256, :256]
    truth, lr = degrade(image, spec, seed=3)
    pred = upscale_baseline("lanczos", lr, 2)
    paths = {}
    for name, array in (("truth", truth), ("lr", lr), ("pred", pred)):
        paths[name] = folder / f"{name}.fits"
        fits.PrimaryHDU(array.astype(np.float32)).writeto(paths[name])
    return {"spec": spec, "truth": truth, "lr": lr, "pred": pred, "paths": paths}
