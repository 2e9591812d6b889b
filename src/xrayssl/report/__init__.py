"""xrayssl.report."""
