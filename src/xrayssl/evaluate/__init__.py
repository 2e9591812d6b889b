"""xrayssl.evaluate."""
