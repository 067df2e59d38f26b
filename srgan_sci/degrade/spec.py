"""What a degradation does, as data: :class:`DegradationSpec` and the named presets.

A spec is stored with every simulated dataset and every trained model, so that users know
which instrument a model was trained to invert.  It serialises to plain JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from srgan_sci.degrade.psf import PSFSpec
from srgan_sci.errors import SrsciError


class SpecError(SrsciError, ValueError):
    """A degradation spec or preset is invalid."""


@dataclass(frozen=True)
class DegradationSpec:
    """Optics + detector chain that turns a high-resolution (HR) image into a low-res one.

    The chain, in order (see :func:`srgan_sci.degrade.chain.degrade`)::

        HR -> convolve(PSF) -> bin (scale, sum|mean) -> x photon factor (e-)
           -> + sky -> Poisson -> + read noise -> / gain + offset (ADU) -> clip(saturation)
           -> - offset [- sky/gain]  (if ``subtract_offset`` / ``subtract_sky``)

    With ``hr_psf`` (the HR image is a real observation) the convolution uses the matching
    kernel ``K`` with ``hr_psf * K = psf`` instead of ``psf``, see
    :mod:`srgan_sci.degrade.matching`.

    Parameters
    ----------
    scale : int
        Integer resolution factor between HR and LR pixels.
    psf : PSFSpec
        Point spread function at the HR pixel scale (FWHM in HR pixels).
    binning : {"sum", "mean"}
        ``"sum"`` conserves flux (detectors, astronomy); ``"mean"`` keeps intensities
        (microscopy convention).
    photons : float or None
        Photon budget: the mean signal in e- per LR pixel, averaged over the whole image
        (one factor for the whole array, computed once).  ``None`` takes the binned
        image as e- already (times ``electrons_per_unit``).
    electrons_per_unit : float
        e- per input unit when ``photons`` is None.
    sky : float
        Background added before shot noise, e- per LR pixel.
    read_noise : float
        Gaussian read noise, e- RMS per LR pixel.
    gain : float
        e- per ADU.
    offset : float
        Bias level, ADU.
    saturation : float or None
        Full-scale level in ADU (clipped above), or None.
    poisson : bool
        Draw shot noise.
    subtract_offset, subtract_sky : bool
        Remove the bias (and the known mean sky) from the LR readout, as calibrated
        science frames do.
    hr_psf : PSFSpec or None
        The PSF the HR input already has (real observations), at the HR pixel scale; it
        must be narrower than ``psf``.  None: the HR input is taken as unblurred.
    """

    scale: int
    psf: PSFSpec
    binning: str = "sum"
    photons: float | None = None
    electrons_per_unit: float = 1.0
    sky: float = 0.0
    read_noise: float = 0.0
    gain: float = 1.0
    offset: float = 0.0
    saturation: float | None = None
    poisson: bool = True
    subtract_offset: bool = True
    subtract_sky: bool = False
    name: str = "custom"
    notes: str = field(default="", compare=False)
    hr_psf: PSFSpec | None = None

    def __post_init__(self) -> None:
        """Validate every field once, with messages that say how to fix them."""
        if int(self.scale) != self.scale or self.scale < 1:
            raise SpecError(f"scale must be a positive integer, got {self.scale!r}")
        if self.binning not in ("sum", "mean"):
            raise SpecError(f"binning must be 'sum' or 'mean', got {self.binning!r}")
        if self.photons is not None and self.photons <= 0:
            raise SpecError(f"photons must be positive (mean e- per LR pixel), got {self.photons}")
        if self.gain <= 0:
            raise SpecError(f"gain must be positive (e-/ADU), got {self.gain}")
        for name in ("sky", "read_noise", "electrons_per_unit"):
            if getattr(self, name) < 0:
                raise SpecError(f"{name} must be non-negative, got {getattr(self, name)}")

    def with_overrides(self, **changes: Any) -> DegradationSpec:
        """Copy with some fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary; ``hr_psf`` appears only when it is set."""
        data = asdict(self)
        data["psf"] = self.psf.to_dict()
        if self.hr_psf is None:
            del data["hr_psf"]
        else:
            data["hr_psf"] = self.hr_psf.to_dict()
        return data

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DegradationSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error, a missing ``hr_psf`` is None."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SpecError(f"unknown degradation spec fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["psf"] = PSFSpec.from_dict(values["psf"])
        if values.get("hr_psf") is not None:
            values["hr_psf"] = PSFSpec.from_dict(values["hr_psf"])
        return cls(**values)


def _preset(**values: Any) -> DegradationSpec:
    return DegradationSpec(scale=4, **values)


PRESETS: dict[str, DegradationSpec] = {
    "widefield-lowlight": _preset(
        name="widefield-lowlight",
        psf=PSFSpec(kind="airy", fwhm=4.0),
        binning="mean",
        photons=50.0,
        sky=5.0,
        read_noise=1.5,
        gain=0.5,
        offset=100.0,
        notes="Live-cell widefield fluorescence at a low photon budget on an sCMOS camera: "
        "Airy PSF (FWHM 4 HR px), 50 e- mean signal, 5 e- background, 1.5 e- read noise.",
    ),
    "confocal": _preset(
        name="confocal",
        psf=PSFSpec(kind="gaussian", fwhm=3.0),
        binning="mean",
        photons=200.0,
        sky=1.0,
        read_noise=0.5,
        gain=1.0,
        offset=0.0,
        notes="Point-scanning confocal: near-Gaussian PSF (FWHM 3 HR px), 200 e- mean signal, "
        "photon-counting detector with little read noise.",
    ),
    "ground-seeing": _preset(
        name="ground-seeing",
        psf=PSFSpec(kind="moffat", fwhm=6.0, beta=3.5),
        binning="sum",
        photons=30.0,
        sky=100.0,
        read_noise=5.0,
        gain=2.0,
        offset=1000.0,
        subtract_sky=True,
        notes="Seeing-limited ground-based imaging: Moffat PSF (FWHM 6 HR px = 1.5 LR px, "
        "beta 3.5), bright sky (100 e-/px), CCD read noise 5 e-, sky-subtracted output.",
    ),
    "space-diffraction": _preset(
        name="space-diffraction",
        psf=PSFSpec(kind="airy", fwhm=2.5),
        binning="sum",
        photons=20.0,
        sky=2.0,
        read_noise=3.0,
        gain=1.0,
        offset=0.0,
        subtract_sky=True,
        notes="Diffraction-limited space telescope undersampled by its detector: Airy PSF "
        "(FWHM 2.5 HR px), faint sky (2 e-/px), read noise 3 e-.",
    ),
}


def preset(name: str) -> DegradationSpec:
    """The named preset; raises :class:`SpecError` listing the choices if unknown."""
    if name not in PRESETS:
        raise SpecError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
