"""Image-quality metrics: numpy (in memory), dask (out of core), CARE-normalised and FRC.

Everything here is numpy/dask only.  Source photometry and astrometry (photutils) live
in :mod:`srgan_sci.metrics.astro`, imported on demand.  The tensor versions used during
training live in :mod:`srgan_sci.metrics.torch_metrics`, which is not imported here so
that this package never imports torch.
"""

from srgan_sci.metrics.care import affine_fit, care_metrics, percentile_normalize
from srgan_sci.metrics.consistency import (
    ConsistencyResult,
    data_consistency,
    lr_pedestal,
    noise_sigma_lr,
    reblur_and_bin,
)
from srgan_sci.metrics.frc import FRCResult, fourier_ring_correlation
from srgan_sci.metrics.image import (
    MetricError,
    default_data_range,
    mae,
    metrics_table,
    nrmse,
    psnr,
    ssim,
    ssim_map,
)
from srgan_sci.metrics.streaming import lazy_image_metrics, lazy_ssim_map

__all__ = [
    "ConsistencyResult",
    "FRCResult",
    "MetricError",
    "affine_fit",
    "care_metrics",
    "data_consistency",
    "default_data_range",
    "fourier_ring_correlation",
    "lazy_image_metrics",
    "lazy_ssim_map",
    "lr_pedestal",
    "mae",
    "metrics_table",
    "noise_sigma_lr",
    "nrmse",
    "percentile_normalize",
    "psnr",
    "reblur_and_bin",
    "ssim",
    "ssim_map",
]
