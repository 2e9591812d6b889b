"""xrayssl.study."""
