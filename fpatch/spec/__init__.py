"""Spec layer: YAML spec files to validated, located data (``Spec``)."""

from fpatch.spec.parse import parse_file, parse_text
from fpatch.spec.types import Site, Spec, State

__all__ = ["parse_file", "parse_text", "Site", "Spec", "State"]
