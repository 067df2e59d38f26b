"""Degradation simulators: PSFs, detector chain, presets and synthetic scenes."""
