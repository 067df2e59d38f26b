"""Upscale many files into one folder, with a manifest so a re-run continues where it stopped."""

from __future__ import annotations

import glob
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from srgan_sci.errors import SrsciError
from srgan_sci.io.api import split_hdu_selector
from srgan_sci.upscale import UpscaleConfig, upscale_file

MANIFEST_NAME = "manifest.json"


def expand_inputs(patterns: list[str]) -> list[str]:
    """Paths from glob patterns and ``@list.txt`` files (one path per line), in order, unique."""
    paths: list[str] = []
    for pattern in patterns:
        if pattern.startswith("@"):
            lines = Path(pattern[1:]).read_text().splitlines()
            found = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        else:
            found = sorted(glob.glob(pattern)) or [pattern]
        paths += [p for p in found if p not in paths]
    return paths


def output_name(source: str, suffix: str) -> str:
    """``image.fits`` -> ``image<suffix>``; ``image.fits[SCI]`` -> ``image_SCI<suffix>``."""
    path, hdu = split_hdu_selector(source)
    name, tag = path.name, f"_{hdu}" if hdu else ""
    for known in (".ome.zarr", ".ome.tiff", ".ome.tif", ".fits.fz", ".fits.gz"):
        if name.lower().endswith(known):
            return name[: -len(known)] + tag + suffix
    return Path(name).stem + tag + suffix


def upscale_batch(
    inputs: list[str], out_dir: str | Path, template: UpscaleConfig, suffix: str = ".ome.zarr"
) -> dict[str, Any]:
    """Upscale every input into ``out_dir``; failures are recorded, not fatal.

    ``out_dir/manifest.json`` maps each input to its output, status (``done`` or
    ``failed``), error message and the run's ``warnings`` (unit rule, HDUs left out);
    it is rewritten atomically after every file, and inputs
    already ``done`` are skipped on a re-run.  Unfinished Zarr outputs are resumed.

    Returns
    -------
    dict
        The manifest.
    """
    if not inputs:
        raise SrsciError("no input files matched; check the glob or the @list file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for source in inputs:
        entry = manifest.get(source, {})
        if entry.get("status") == "done":
            continue
        output = out_dir / output_name(source, suffix)
        config = replace(template, input=source, output=str(output), resume=suffix.endswith("zarr"))
        try:
            summary = upscale_file(config)
            manifest[source] = {"output": str(output), "status": "done"}
            if summary.get("warnings"):
                manifest[source]["warnings"] = summary["warnings"]
        except (SrsciError, OSError, ValueError) as error:
            message = " ".join(str(error).split())
            manifest[source] = {"output": str(output), "status": "failed", "error": message}
        partial = manifest_path.with_name(f".{MANIFEST_NAME}.partial")
        partial.write_text(json.dumps(manifest, indent=2))
        os.replace(partial, manifest_path)
    return manifest
