"""Connectors: one declarative, versioned description per source, and its readers."""

from pathlib import Path

#: Folder of the shipped connectors (``transiscope.yaml``…).
SOURCES = Path(__file__).resolve().parents[1] / "sources"
