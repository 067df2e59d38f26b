"""Bicubic baseline per degradation preset: the figure a trained model must beat.

For each preset, degrade a real image shipped with scikit-image at its preset scale,
upsample the LR back with bicubic interpolation (``skimage.transform.resize``, order 3) and
compare with the HR truth in the same units (ADU per HR pixel; LR rescaled by 1/s² for sum
binning and its known background removed).  PSNR/SSIM use an explicit data range: the
truth's max - min.

Run: ``python -m benchmarks.degradation_baselines`` (writes benchmarks/results/).
"""

from __future__ import annotations

import json

import numpy as np
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import resize

from benchmarks._machine import machine_info, write_results
from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.spec import PRESETS, DegradationSpec

IMAGES = {
    "moon": lambda: skdata.moon().astype(np.float32),
    "hubble_deep_field": lambda: (
        skdata.hubble_deep_field()[:864, :1000].astype(np.float32).sum(axis=-1)
    ),
}


def bicubic_baseline(hr: np.ndarray, spec: DegradationSpec, seed: int = 0) -> dict[str, float]:
    """PSNR/SSIM of the bicubic-upsampled simulated LR against the truth."""
    hr_adu, lr = degrade(hr, spec, seed=seed)
    background = 0.0 if spec.subtract_sky else spec.sky / spec.gain
    lr_per_hr_pixel = (lr - background) / (spec.scale**2 if spec.binning == "sum" else 1.0)
    upsampled = resize(lr_per_hr_pixel, hr_adu.shape, order=3, mode="reflect", anti_aliasing=False)
    data_range = float(hr_adu.max() - hr_adu.min())
    return {
        "psnr_db": float(peak_signal_noise_ratio(hr_adu, upsampled, data_range=data_range)),
        "ssim": float(
            structural_similarity(
                hr_adu,
                upsampled.astype(np.float32),
                data_range=data_range,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
        ),
        "data_range": data_range,
    }


def main() -> None:
    """Measure every preset on every image and write JSON + Markdown."""
    rows = []
    for image_name, load in IMAGES.items():
        hr = load()
        for preset_name, spec in PRESETS.items():
            scale = spec.scale
            crop = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
            rows.append(
                {"image": image_name, "preset": preset_name, "scale": scale}
                | bicubic_baseline(crop, spec)
            )
    lines = [
        "| image | preset | scale | bicubic PSNR (dB) | bicubic SSIM |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['image']} | {r['preset']} | x{r['scale']} | {r['psnr_db']:.2f} | {r['ssim']:.4f} |"
        for r in rows
    ]
    write_results("degradation_baselines", {"machine": machine_info(), "rows": rows}, lines)
    print("\n".join(lines))
    print(json.dumps(machine_info()))


if __name__ == "__main__":
    main()
