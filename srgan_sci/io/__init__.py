"""Reading and writing scientific images: FITS, TIFF/OME-TIFF and Zarr/OME-Zarr.

One front door: :func:`open_array` opens any supported file as a lazy float32 dask array
with its metadata, and :func:`write_array` writes an array back, with the metadata
(WCS, pixel sizes) updated for an upscale factor.
"""

from srgan_sci.io.api import detect_format, open_array, upscaled_metadata, write_array
from srgan_sci.io.metadata import ImageMetadata, LazyImage, PixelSize

__all__ = [
    "ImageMetadata",
    "LazyImage",
    "PixelSize",
    "detect_format",
    "open_array",
    "upscaled_metadata",
    "write_array",
]
