"""Pydantic models for every configurable part: the only place defaults live.

Each stage has its own module (``config.data``, ``config.pretrain``, ...). Models forbid
unknown fields so a typo in a YAML file names the field instead of being ignored.
"""
