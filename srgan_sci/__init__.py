"""srgan_sci: scientific super-resolution of microscopy and astronomy images."""

from srgan_sci._version import __version__

__all__ = ["__version__"]
