"""Model bundles: a generator's weights in safetensors plus its metadata in JSON.

A bundle is a directory::

    my-model/
      model.safetensors   generator weights (float32, or float16 with ``half=True``);
                          the metadata JSON is repeated in the safetensors header
      model.json          {"kind": "srgan_sci-model", "metadata": {...},
                           "weights": {"file", "sha256", "dtype", "bytes"}}

Loading never unpickles: weights are read with :func:`safetensors.torch.load_file`, so a
bundle from an untrusted source cannot run code.  The sha256 recorded in ``model.json``
is checked before the weights are read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from srgan_sci import __version__
from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.io.api import replace_atomically

WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
BUNDLE_KIND = "srgan_sci-model"
FORMAT_VERSION = 1
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save zip archives and legacy pickles


class BundleError(SrsciError, ValueError):
    """A model bundle is missing, incomplete, corrupt or not a bundle at all."""


@dataclass(frozen=True)
class BundleMetadata:
    """Everything needed to rebuild a generator and to know what it was trained for.

    Parameters
    ----------
    arch : str
        Generator architecture, a key of ``srgan_sci.models.generator.GENERATORS``
        (``"msrresnet"`` or ``"rrdb"``).
    arch_config : dict
        Constructor keyword arguments of the generator (its ``config()``).
    scale : int
        Upscaling factor.
    in_channels, out_channels : int
        Channels of the input and output images.
    normalizer : dict or None
        ``to_dict()`` of the normaliser used in training (a record: inference refits a
        normaliser on its own input).
    degradation : dict or None
        ``DegradationSpec.to_dict()`` of the degradation the model learnt to invert.
    training : dict
        Summary of the training run: steps, phases, losses, validation metrics, data
        sources, duration.
    name : str, optional
        Human-readable model name.
    version : str, optional
        srgan_sci version that saved the bundle.
    format_version : int, optional
        Bundle format version; this srgan_sci reads versions up to ``FORMAT_VERSION``.
    """

    arch: str
    arch_config: dict[str, Any]
    scale: int
    in_channels: int
    out_channels: int
    normalizer: dict[str, Any] | None
    degradation: dict[str, Any] | None
    training: dict[str, Any]
    name: str = "model"
    version: str = __version__
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict; :meth:`from_dict` restores it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BundleMetadata:
        """Rebuild metadata from :meth:`to_dict` output.

        Raises
        ------
        BundleError
            If ``d`` has unknown or missing keys, or was written by a newer format.
        """
        if not isinstance(d, dict):
            raise BundleError(f"bundle metadata must be a JSON object, got {type(d).__name__}")
        version = d.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BundleError(
                f"bundle format_version {version!r} was made by a newer srgan_sci "
                f"(this one, {__version__}, reads up to {FORMAT_VERSION}); upgrade srgan_sci"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        missing = sorted(
            name for name, f in fields.items() if name not in d and f.default is dataclasses.MISSING
        )
        if unknown or missing:
            raise BundleError(
                f"bundle metadata has unknown keys {unknown} and missing keys {missing}; "
                f"expected keys {sorted(fields)}"
            )
        return cls(**d)


def save_bundle(
    directory: str | Path,
    generator: torch.nn.Module,
    metadata: BundleMetadata,
    *,
    half: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write ``generator``'s weights and ``metadata`` as a bundle directory.

    Both files are written into a temporary sibling directory that is renamed to
    ``directory`` once complete, so a failed save leaves no partial bundle behind.

    Parameters
    ----------
    directory : str or pathlib.Path
        Bundle directory to create.
    generator : torch.nn.Module
        The generator; its ``state_dict()`` is saved (moved to the CPU).
    metadata : BundleMetadata
        What the generator is and how it was trained.
    half : bool, optional
        Store floating-point weights as float16 (half the size; loaded back as float32).
    overwrite : bool, optional
        Replace an existing ``directory``.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    OutputExistsError
        If ``directory`` exists and ``overwrite`` is False.
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise OutputExistsError(f"{directory} exists; pass overwrite=True to replace it")
    store = torch.float16 if half else torch.float32
    tensors = {
        key: value.detach()
        .to(device="cpu", dtype=store if value.is_floating_point() else value.dtype)
        .clone()
        for key, value in generator.state_dict().items()
    }
    meta = metadata.to_dict()
    meta_json = json.dumps(meta, sort_keys=True)

    def write(partial: Path) -> Path:
        partial.mkdir(parents=True)
        weights = partial / WEIGHTS_FILE
        save_file(
            {k: v.contiguous() for k, v in tensors.items()},
            weights,
            metadata={"format": "pt", "kind": BUNDLE_KIND, "srgan_sci": meta_json},
        )
        record = {
            "kind": BUNDLE_KIND,
            "metadata": meta,
            "weights": {
                "file": WEIGHTS_FILE,
                "sha256": _sha256(weights),
                "dtype": str(store).removeprefix("torch."),
                "bytes": weights.stat().st_size,
            },
        }
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
        (partial / METADATA_FILE).write_text(text, encoding="utf-8")
        return directory

    return replace_atomically(directory, write)


def load_bundle(
    directory: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, BundleMetadata]:
    """Rebuild the generator stored in a bundle, in float32 and eval mode.

    Parameters
    ----------
    directory : str or pathlib.Path
        Bundle directory written by :func:`save_bundle`.
    device : str or torch.device, optional
        Device to put the generator on.

    Returns
    -------
    generator : torch.nn.Module
        Built with ``build_generator(metadata.arch, metadata.arch_config)``.
    metadata : BundleMetadata

    Raises
    ------
    BundleError
        If the directory or a file is missing, ``model.json`` is not valid, the weights
        do not match their recorded sha256, are not safetensors (e.g. a pickled ``.pth``),
        or do not fit the architecture.
    """
    directory = Path(directory)
    record = _read_record(directory)
    metadata = BundleMetadata.from_dict(record["metadata"])
    weights = directory / WEIGHTS_FILE
    _check_weights(weights, record["weights"])
    try:
        state = load_file(weights, device="cpu")
    except (SafetensorError, OSError) as error:
        raise BundleError(f"{weights} is not a readable safetensors file ({error})") from error

    from srgan_sci.models.generator import build_generator

    try:
        generator = build_generator(metadata.arch, metadata.arch_config)
    except SrsciError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(
            f"{directory}: cannot build generator {metadata.arch!r} with "
            f"{metadata.arch_config} ({error}); the bundle may need a newer srgan_sci"
        ) from error
    _load_state(generator, state, directory)
    return generator.to(device).eval(), metadata


def read_bundle_metadata(directory: str | Path) -> BundleMetadata:
    """The metadata of a bundle, without reading its weights (no torch work)."""
    return BundleMetadata.from_dict(_read_record(Path(directory))["metadata"])


def _read_record(directory: Path) -> dict[str, Any]:
    """Read and check the structure of ``model.json`` in ``directory``."""
    if not directory.exists():
        raise BundleError(f"no model bundle at {directory}; check the path")
    if not directory.is_dir():
        hint = (
            " (it looks like a PyTorch pickle; srgan_sci loads only safetensors bundles "
            "written by save_bundle)"
            if _weights_format(directory) == "pickle"
            else ""
        )
        raise BundleError(
            f"{directory} is a file, not a model bundle directory{hint}; pass the directory "
            f"holding {METADATA_FILE} and {WEIGHTS_FILE}"
        )
    for name in (METADATA_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise BundleError(
                f"{directory} is not a complete model bundle: {name} is missing; "
                "re-export the model with save_bundle"
            )
    path = directory / METADATA_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(
            f"{path} is not valid JSON ({error}); restore it or re-export the model"
        ) from error
    if not isinstance(record, dict) or record.get("kind") != BUNDLE_KIND:
        raise BundleError(
            f"{path} is not a srgan_sci model description (kind != {BUNDLE_KIND!r}); "
            "re-export the model with save_bundle"
        )
    weights = record.get("weights")
    if "metadata" not in record or not isinstance(weights, dict) or "sha256" not in weights:
        raise BundleError(
            f"{path} lacks the 'metadata' or 'weights.sha256' entry; re-export the model"
        )
    return record


def _check_weights(path: Path, weights: dict[str, Any]) -> None:
    """Refuse pickles, non-safetensors files and files whose sha256 differs from the record."""
    kind = _weights_format(path)
    if kind == "pickle":
        raise BundleError(
            f"{path} is a PyTorch pickle, not safetensors; srgan_sci never unpickles "
            "weights: re-export the model with save_bundle"
        )
    if kind != "safetensors":
        raise BundleError(f"{path} is not a safetensors file; re-export the model with save_bundle")
    if _sha256(path) != weights["sha256"]:
        raise BundleError(
            f"{path} does not match the sha256 recorded in {METADATA_FILE} (corrupt or "
            "modified); re-download or re-export the bundle"
        )


def _load_state(generator: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Load ``state`` strictly into ``generator``, floating-point tensors as float32."""
    expected = set(generator.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise BundleError(
            f"{where}: weights do not fit the {type(generator).__name__} architecture "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]}); the bundle's "
            f"{METADATA_FILE} and {WEIGHTS_FILE} do not belong together"
        )
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as error:
        message = " ".join(str(error).split())
        raise BundleError(f"{where}: weights do not fit the architecture: {message}") from error


def _weights_format(path: Path) -> str:
    """Return ``"safetensors"``, ``"pickle"`` or ``"unknown"`` from the first bytes of ``path``.

    A safetensors file starts with the little-endian uint64 length of a JSON header that
    follows it; ``torch.save`` writes a zip archive (``PK``) or a raw pickle (``0x80``).
    """
    with path.open("rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    if len(head) == 9 and 8 + int.from_bytes(head[:8], "little") <= size and head[8:] == b"{":
        return "safetensors"
    return "pickle" if head.startswith(_PICKLE_MAGIC) else "unknown"


def _sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
