"""Generators, discriminators, perceptual feature networks and model bundles."""
