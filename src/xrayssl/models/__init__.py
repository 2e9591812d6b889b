"""xrayssl.models."""
