"""xrayssl.explain."""
