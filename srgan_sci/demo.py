"""``srsci demo``: the whole pipeline on one machine, offline, in a few minutes.

For each demo kind:

* ``astro`` — a synthetic survey-like galaxy field (Zarr truth), degraded by the
  ground-seeing preset into an LR FITS image with a TAN WCS; upscaled by the default
  model for FITS input (``astro-x4``) through the Dask pipeline; evaluated against the
  truth and against bicubic, Lanczos and Richardson–Lucy+bicubic baselines.
* ``fluo`` — a synthetic field of fluorescent nuclei degraded by the widefield-lowlight
  preset into an OME-TIFF with pixel sizes; upscaled by the default TIFF model
  (``fluo-x4``) and evaluated the same way.

Everything lands in one folder: ``KIND/pairs.zarr`` (truth and LR), ``KIND/lr.fits`` or
``KIND/lr.ome.tif``, ``KIND/sr.zarr``, ``KIND/report/`` and ``index.html`` linking the reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.evaluate import EvaluateConfig, evaluate_files
from srgan_sci.io import open_array, write_array
from srgan_sci.io.api import replace_atomically
from srgan_sci.io.metadata import ImageMetadata, PixelSize
from srgan_sci.simulate import SimulateConfig, simulate_pairs
from srgan_sci.upscale import UpscaleConfig, upscale_file

DEMO_KINDS: dict[str, dict[str, Any]] = {
    "astro": {"scene": "galaxies", "preset": "ground-seeing", "lr_name": "lr.fits", "seed": 2026},
    "fluo": {
        "scene": "nuclei",
        "preset": "widefield-lowlight",
        "lr_name": "lr.ome.tif",
        "seed": 2027,
    },
}
"""What each demo simulates and the LR file format that selects its default model."""


@dataclass(frozen=True)
class DemoConfig:
    """Options of ``srsci demo``.

    Parameters
    ----------
    out : str
        Folder to create for all demo outputs.
    kinds : tuple of str
        Demos to run (``astro``, ``fluo``).
    size : int
        Side of the synthetic truth, HR pixels (a multiple of 64).
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show progress bars.
    """

    out: str = "srsci-demo"
    kinds: tuple[str, ...] = ("astro", "fluo")
    size: int = 1024
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(DEMO_KINDS))
        if unknown or not self.kinds:
            raise SrsciError(f"unknown demo kinds {unknown}; choose from {', '.join(DEMO_KINDS)}")
        if self.size < 256 or self.size % 64:
            raise SrsciError(f"--size must be a multiple of 64 and >= 256, got {self.size}")


def run_demo(config: DemoConfig, log: Any = print) -> dict[str, Any]:
    """Run the demos and return ``{kind: {"report", "metrics", "seconds"}}``.

    Parameters
    ----------
    config : DemoConfig
        What to run and where.
    log : callable
        Receives one line per stage (``print`` by default).
    """
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite or choose another --out")

    def write(folder: Path) -> dict[str, Any]:
        folder.mkdir(parents=True)
        results = {kind: _run_one(kind, folder / kind, config, log) for kind in config.kinds}
        _index(folder, results)
        return results

    results = replace_atomically(out, write)
    for kind, result in results.items():
        result["report"] = out / kind / "report" / "report.html"
    return results


def _run_one(kind: str, folder: Path, config: DemoConfig, log: Any) -> dict[str, Any]:
    recipe = DEMO_KINDS[kind]
    started = time.perf_counter()
    folder.mkdir()
    pairs = folder / "pairs.zarr"
    log(f"[{kind}] simulating a {config.size}² {recipe['scene']} field ({recipe['preset']})")
    simulate_pairs(
        SimulateConfig(
            out=str(pairs),
            scene=recipe["scene"],
            size=config.size,
            preset=recipe["preset"],
            seed=recipe["seed"],
            val_fraction=0.0,
            progress=config.progress,
        )
    )
    lr_path = folder / recipe["lr_name"]
    _write_lr(pairs / "lr" / "0", lr_path, kind)
    sr_path = folder / "sr.zarr"
    log(f"[{kind}] upscaling {lr_path.name} with the default model for its format")
    summary = upscale_file(
        UpscaleConfig(input=str(lr_path), output=str(sr_path), progress=config.progress)
    )
    log(f"[{kind}] {summary.get('model_choice', summary['model'])}")
    report_dir = folder / "report"
    log(f"[{kind}] evaluating against the truth and baselines")
    report = evaluate_files(
        EvaluateConfig(
            pred=str(sr_path),
            truth=str(pairs / "hr" / "0"),
            lr=str(lr_path),
            out=str(report_dir),
            label=summary.get("name") or "SR",
            astro=kind == "astro",
            progress=config.progress,
        )
    )
    return {
        "report": report_dir / "report.html",
        "model": summary.get("name"),
        "metrics": report.table.to_dict(),
        "seconds": time.perf_counter() - started,
    }


def _write_lr(source: Path, target: Path, kind: str) -> None:
    """Write the simulated LR array as the file a user of that domain would have."""
    lr = open_array(str(source)).data.astype(np.float32)
    if kind == "astro":
        header = _demo_wcs(lr.shape).to_header()
        header["BUNIT"] = "adu"
        header["OBJECT"] = "srsci demo field"
        meta = ImageMetadata(str(target), "fits", "yx", "float32", units="adu", fits_header=header)
        meta = meta.with_updates(fits_header=fits.Header(header))
    else:
        sizes = {axis: PixelSize(0.26, "micrometer") for axis in "yx"}
        meta = ImageMetadata(str(target), "tiff", "yx", "float32", pixel_sizes=sizes)
    write_array(target, lr, meta)


def _demo_wcs(shape: tuple[int, ...]) -> WCS:
    """A TAN WCS of 1 arcsec pixels centred on the demo field."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1, 2.2]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cdelt = [-1 / 3600, 1 / 3600]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def _index(out: Path, results: dict[str, Any]) -> None:
    """``index.html`` linking every demo report."""
    items = "".join(
        f'<li><a href="{kind}/report/report.html">{kind}</a> — model {r["model"]}, '
        f"{r['seconds']:.0f} s</li>"
        for kind, r in results.items()
    )
    (out / "index.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>srsci demo</title></head>"
        f"<body><h1>srsci demo</h1><ul>{items}</ul></body></html>\n"
    )
