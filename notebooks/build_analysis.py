"""Write ``notebooks/analysis.ipynb`` from the cells below, with no outputs.

The notebook is generated so that its review happens here, on plain Python and Markdown,
and so that the committed file never carries outputs: edit this script, then run

    python notebooks/build_analysis.py

``tests/test_notebooks.py`` checks that the committed notebook equals this script's output
and executes it.
"""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).with_name("analysis.ipynb")

CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        """
        # Super-resolving a Hubble Deep Field cut-out with `srgan_sci`

        This notebook runs one complete super-resolution experiment, step by step, the way
        you would run it on your own data:

        1. load a FITS image with its WCS and units;
        2. simulate what a worse instrument would have recorded from it (seeing, coarser
           pixels, sky, Poisson and read noise), so that the sharp original is a known
           ground truth;
        3. upscale the simulated low-resolution (LR) image ×4 with the bundled `astro-x4`
           model, tile by tile, exactly as `srsci upscale` does;
        4. compare the result with classical methods (bicubic and Lanczos interpolation,
           Richardson–Lucy deconvolution);
        5. check that the result is consistent with the LR data given the noise model;
        6. map where the model is uncertain.

        The same steps apply to microscopy: pick a microscopy preset (`widefield-lowlight`,
        `confocal`) and a microscopy model (`fluo-x4`, `fluo-x2`). The last cell lists the
        equivalent command-line calls.

        The whole notebook runs in well under a minute on a laptop CPU (a CUDA GPU is used
        when there is one). Figures are written to a temporary folder that is deleted when
        the kernel stops.
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import tempfile
        import time
        from pathlib import Path

        import dask
        import dask.array as da
        import matplotlib.pyplot as plt
        import numpy as np
        from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval
        from astropy.wcs import WCS
        from astropy.wcs.utils import proj_plane_pixel_scales
        from IPython.display import Image, display

        from srgan_sci.baselines import upscale_baseline
        from srgan_sci.degrade.chain import degrade
        from srgan_sci.degrade.spec import preset
        from srgan_sci.devices import resolve_device
        from srgan_sci.evaluate import evaluate_arrays
        from srgan_sci.infer.tiling import upscale_lazy, upscale_plane_numpy
        from srgan_sci.infer.tta import upscale_lazy_tta
        from srgan_sci.io import open_array
        from srgan_sci.normalize import fit_asinh, fit_percentile
        from srgan_sci.upscale import load_model
        from srgan_sci.workflows import sample_path

        started = time.perf_counter()
        workdir = tempfile.TemporaryDirectory(prefix="srsci-notebook-")  # removed at exit
        WORK = Path(workdir.name)
        device = resolve_device("auto")  # CUDA if available, else CPU
        SEED = 0  # seed of the simulated noise: the same seed gives the same numbers
        print(f"device: {device}; figures go to {WORK}")


        def show_row(panels, norm=None, cmap="gray", colorbar=None):
            \"\"\"Show ``{title: image}`` side by side, LR and HR images on one HR grid.\"\"\"
            height, width = max(img.shape for img in panels.values())
            fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4))
            for ax, (title, img) in zip(np.atleast_1d(axes), panels.items(), strict=True):
                shown = ax.imshow(
                    img,
                    origin="lower",
                    cmap=cmap,
                    norm=norm or ImageNormalize(img, interval=PercentileInterval(99.5)),
                    extent=(-0.5, width - 0.5, -0.5, height - 0.5),
                    interpolation="nearest",
                )
                ax.set_title(title)
                if colorbar:
                    fig.colorbar(shown, ax=ax, shrink=0.8, label=colorbar)
            plt.show()
        """,
    ),
    (
        "markdown",
        """
        ## 1. Load the image

        `open_array` reads FITS, TIFF and Zarr files lazily: `.data` is a Dask array, read
        from disk only when computed, so the same code works on mosaics larger than memory;
        `.meta` carries what is needed to interpret the pixels: the FITS header with its
        WCS, the units and the pixel sizes.

        The bundled sample is a 256 × 256 cut-out of the Hubble Deep Field (WFPC2). It is
        made from the 8-bit display rendition shipped with scikit-image (see the `BUNIT`
        comment), not from a calibrated science frame: the sky is clipped at zero and the
        dynamic range is compressed. That is fine to demonstrate the workflow; do not use
        it for photometry.
        """,
    ),
    (
        "code",
        """
        image = open_array(sample_path("hdf"))
        print(image.data)
        header = image.meta.fits_header
        print(f"units: {image.meta.units} ({header.comments['BUNIT']})")
        wcs = WCS(header)
        pixel_arcsec = proj_plane_pixel_scales(wcs) * 3600
        print(f"pixel scale: {pixel_arcsec[0]:.3f} x {pixel_arcsec[1]:.3f} arcsec")

        # On a large image, work on a crop (sides a multiple of the scale factor) to stay
        # fast; the bundled cut-out is smaller than this and is kept whole.
        SIDE = 512
        hr = image.data[:SIDE, :SIDE].compute()
        print(f"HR image {hr.shape}, {hr.dtype}, {np.nanmin(hr):g} to {np.nanmax(hr):g} ADU")
        """,
    ),
    (
        "code",
        """
        fig = plt.figure(figsize=(6, 5.5))
        ax = fig.add_subplot(projection=wcs)
        shown = ax.imshow(
            hr,
            origin="lower",
            cmap="gray",
            norm=ImageNormalize(hr, interval=PercentileInterval(99.8), stretch=AsinhStretch(0.05)),
        )
        ax.set(xlabel="RA", ylabel="Dec", title="Hubble Deep Field cut-out")
        fig.colorbar(shown, ax=ax, label=image.meta.units)
        plt.show()
        """,
    ),
    (
        "markdown",
        """
        The asinh stretch is linear near the sky level and logarithmic on bright sources,
        so faint galaxies and bright cores are visible in one picture. `origin="lower"`
        puts FITS pixel (1, 1) at the bottom left, as DS9 does; the axes show RA and Dec
        from the WCS.

        ## 2. Simulate a worse instrument

        A degradation *preset* describes an instrument in physical terms. `ground-seeing`
        is a seeing-limited ground-based CCD: a Moffat PSF of 6 HR pixels FWHM, 4 × 4 HR
        pixels per detector pixel, a bright sky and 5 e⁻ read noise.
        """,
    ),
    (
        "code",
        """
        spec = preset("ground-seeing")
        print(spec.notes, "\\n")
        for key, value in spec.to_dict().items():
            if key == "psf":
                value = {k: v for k, v in value.items() if v is not None}
            if key != "notes":
                print(f"{key:>18}: {value}")
        """,
    ),
    (
        "markdown",
        """
        `degrade` runs the chain: the HR image is convolved with the PSF, summed in 4 × 4
        blocks (one detector pixel collects the light of 16 HR pixels), scaled to the
        preset's photon budget (`photons`: mean signal in e⁻ per LR pixel), the sky is
        added, Poisson and read noise are drawn, electrons become ADU through the gain, and
        the offset and sky are subtracted as a reduction pipeline would. It returns the LR
        image and the noise-free truth in the same ADU scale.

        **Units.** `lr` is in ADU per LR pixel. `hr_adu` is in ADU per *HR* pixel: with
        sum binning, the 16 HR pixels under one LR pixel add up to it (before blur and
        noise). A super-resolution model, however, outputs an image that looks like the LR
        one sampled 4× more finely: LR units at every HR position (a flat sky of 10 ADU per
        LR pixel stays 10, it does not become 10/16). The truth to compare with is
        therefore `hr_adu * scale**2` for sum binning (microscopy presets average instead
        of summing, and the factor is 1). `srsci evaluate` applies this factor by itself
        for datasets written by `srsci simulate`.
        """,
    ),
    (
        "code",
        """
        hr_adu, lr = degrade(hr, spec, seed=SEED)
        factor = spec.scale**2 if spec.binning == "sum" else 1
        truth = hr_adu * factor
        print(f"LR {lr.shape}, truth {truth.shape}")
        # Flux bookkeeping: the field means agree, in ADU per LR-pixel area.
        print(f"mean of LR: {lr.mean():.3f} ADU, mean of truth: {truth.mean():.3f} ADU")

        stretch = AsinhStretch(0.05)
        display_norm = ImageNormalize(truth, interval=PercentileInterval(99.8), stretch=stretch)
        show_row({"truth": truth, f"LR ({spec.name}, x{spec.scale})": lr}, norm=display_norm)
        """,
    ),
    (
        "markdown",
        """
        ## 3. Upscale with the bundled `astro-x4` model

        `load_model` is what `srsci upscale` calls: it takes a baseline name (`bicubic`,
        `lanczos`), a bundled or user model name (`srsci models` lists them) or the path of
        a bundle written by `srsci train` (`srgan_sci.models.bundle.load_bundle` loads one
        directly). `astro-x4` was trained on synthetic galaxy and star fields and sample
        photographs degraded with the `ground-seeing` and `space-diffraction` presets.

        The tiled pipeline cuts the LR image into tiles (the Dask chunks), pads each with a
        halo as wide as the model's receptive field, upscales it and crops the halo
        exactly. The mosaic is therefore identical to upscaling the whole image at once —
        no seams — while memory stays bounded for images of any size. The normaliser (the
        kind the model was trained with, recorded in its bundle: a linear percentile
        stretch or an asinh stretch) is fitted **once on the whole LR image**: a
        normaliser fitted per tile would give every tile its own brightness scale, and
        visible seams.
        """,
    ),
    (
        "code",
        """
        model, about = load_model("astro-x4", None, device)
        print(about, f"| halo: {model.receptive_field_radius} LR pixels")

        lr_lazy = da.from_array(lr, chunks=32)  # a file: open_array(path, chunks=512).data
        fit = fit_asinh if about["normalizer_kind"] == "asinh" else fit_percentile
        normalizer = fit(lr_lazy)  # once, on the whole LR image, as the model was trained
        print(normalizer)
        sr_lazy = upscale_lazy(model, lr_lazy, normalizer, device=device)
        print(sr_lazy)  # a lazy graph: nothing has run yet
        sr = sr_lazy.compute()

        whole = upscale_plane_numpy(model, lr, normalizer=normalizer, device=device)
        print(f"max |tiled - whole image| = {np.abs(sr - whole).max():.3g} ADU")
        """,
    ),
    (
        "code",
        """
        show_row({"LR": lr, "astro-x4": sr, "truth": truth}, norm=display_norm)
        """,
    ),
]
"""``(cell_type, source)`` in order; sources are dedented and stripped.  Sections 1-3
(setup, simulation, upscale) are here; 4-7 (comparison, consistency, uncertainty, command
line) are in ``analysis_cells_results.py``."""

CELLS += runpy.run_path(str(Path(__file__).with_name("analysis_cells_results.py")))["RESULT_CELLS"]


def build_notebook() -> nbformat.NotebookNode:
    """The analysis notebook, without outputs, with stable cell ids."""
    cells = []
    for index, (kind, source) in enumerate(CELLS):
        text = textwrap.dedent(source).strip()
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        cell.id = f"cell-{index:02d}"
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    """Write the notebook next to this script."""
    nbformat.write(build_notebook(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
