"""xrayssl.augment."""
