"""Bundled default models (the "zoo"), user models, and the default choice per input.

Bundled models live in this package, one bundle directory each (``model.json``,
``model.safetensors`` with float16 weights, ``MODEL_CARD.md``); the recipe that trained
each one is ``recipes/NAME.toml`` (``python -m benchmarks.train_zoo NAME`` reruns it).
User models are bundle directories in ``$SRSCI_MODEL_DIR`` (default
``~/.local/share/srgan_sci/models``); a user model with a bundled model's name wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan_sci.errors import SrsciError

ZOO_DIR = Path(__file__).parent
"""Folder holding one bundle directory per default model."""

RECIPES_DIR = ZOO_DIR / "recipes"
"""Folder of the TOML recipes that trained the default models."""

CARD_FILE = "MODEL_CARD.md"

DEFAULTS: dict[tuple[str, int], str] = {
    ("astro", 4): "astro-x4",
    ("fluo", 2): "fluo-x2",
    ("fluo", 4): "fluo-x4",
}
"""Default model per (domain, scale)."""

SPACE_DEFAULTS: dict[int, str] = {4: "astro-x4-space"}
"""Default astro model per scale for FITS images from a space telescope."""

SPACE_TELESCOPES = ("HST", "JWST", "EUCLID", "ROMAN", "SPITZER")
"""``TELESCOP`` values (upper-cased prefixes) of diffraction-limited space imagers."""

DEFAULT_SCALE = 4


class ModelNotFoundError(SrsciError, LookupError):
    """A model name is neither a bundle path, a bundled model nor a user model."""


@dataclass(frozen=True)
class ModelEntry:
    """One model ``srsci models`` knows about.

    Parameters
    ----------
    name : str
        Name to pass to ``--model``.
    path : pathlib.Path
        Bundle directory.
    source : {"bundled", "user"}
        Shipped with srgan_sci or found in the user model folder.
    """

    name: str
    path: Path
    source: str

    @property
    def card(self) -> Path | None:
        """The model card, if the bundle has one."""
        card = self.path / CARD_FILE
        return card if card.is_file() else None


def user_model_dir() -> Path:
    """Folder of user models: ``$SRSCI_MODEL_DIR`` or ``~/.local/share/srgan_sci/models``."""
    configured = os.environ.get("SRSCI_MODEL_DIR")
    return Path(configured) if configured else Path.home() / ".local/share/srgan_sci/models"


def _bundles(folder: Path, source: str) -> list[ModelEntry]:
    if not folder.is_dir():
        return []
    return [
        ModelEntry(child.name, child, source)
        for child in sorted(folder.iterdir())
        if (child / "model.json").is_file()
    ]


def list_models() -> list[ModelEntry]:
    """Bundled models, then user models (a user model shadows a bundled one of its name)."""
    user = _bundles(user_model_dir(), "user")
    shadowed = {entry.name for entry in user}
    bundled = [entry for entry in _bundles(ZOO_DIR, "bundled") if entry.name not in shadowed]
    return bundled + user


def resolve_model(name: str) -> Path:
    """The bundle directory for ``name``: an existing path, or a bundled or user model name.

    Raises
    ------
    ModelNotFoundError
        Listing the known model names.
    """
    path = Path(name).expanduser()
    if path.exists():
        return path
    for entry in reversed(list_models()):
        if entry.name == name:
            return entry.path
    known = ", ".join(entry.name for entry in list_models()) or "none installed"
    raise ModelNotFoundError(
        f"no model {name!r}: not a bundle folder, and the known models are {known} "
        "(see `srsci models`)"
    )


def domain_of(image_format: str) -> str:
    """``astro`` for FITS input, ``fluo`` (fluorescence microscopy) for TIFF and Zarr."""
    return "astro" if image_format == "fits" else "fluo"


def space_telescope(header: Any) -> str | None:
    """The ``TELESCOP`` of a FITS header if it names a space telescope, else ``None``."""
    if header is None:
        return None
    telescope = str(header.get("TELESCOP", "")).strip().upper()
    return telescope if telescope.startswith(SPACE_TELESCOPES) else None


def default_model(image_format: str, scale: int | None = None, header: Any = None) -> str:
    """Name of the default model for an input format (``fits``, ``tiff``, ``zarr``) and scale.

    A FITS ``header`` whose ``TELESCOP`` names a space telescope (:data:`SPACE_TELESCOPES`)
    selects the space-diffraction specialist of :data:`SPACE_DEFAULTS` when one exists at
    that scale.

    Raises
    ------
    ModelNotFoundError
        If no default exists for that domain and scale.
    """
    domain = domain_of(image_format)
    wanted = scale or DEFAULT_SCALE
    if domain == "astro" and space_telescope(header) and wanted in SPACE_DEFAULTS:
        return SPACE_DEFAULTS[wanted]
    if (domain, wanted) not in DEFAULTS:
        scales = sorted(s for d, s in DEFAULTS if d == domain)
        raise ModelNotFoundError(
            f"no default {domain} model for x{wanted} (defaults exist for x"
            f"{', x'.join(map(str, scales))}); pass --model BUNDLE or --model bicubic"
        )
    return DEFAULTS[(domain, wanted)]


def describe_model(path: Path, *, short: bool = False) -> str | tuple[str, str]:
    """A model's card (or its metadata as text when it has none).

    With ``short``, return ``(scale, degradation names)`` for the model table instead.
    """
    from srgan_sci.models.bundle import read_bundle_metadata

    metadata = read_bundle_metadata(path)
    degradations = metadata.training.get("degradations") or [metadata.degradation or {}]
    names = ", ".join(sorted({str(d.get("name", "?")) for d in degradations}))
    if short:
        return f"x{metadata.scale}", names
    card = Path(path) / CARD_FILE
    if card.is_file():
        return card.read_text(encoding="utf-8")
    steps = metadata.training.get("steps", "?")
    return (
        f"{metadata.name or Path(path).name}: {metadata.arch} x{metadata.scale}, "
        f"{metadata.in_channels} channel(s), trained {steps} steps on {names} "
        f"(srgan_sci {metadata.version}); no {CARD_FILE} in {path}"
    )
