"""Inference of super-resolution models on lazy arrays: exact tiling with halos."""
