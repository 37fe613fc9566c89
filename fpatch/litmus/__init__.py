"""Instruction-fetch litmus tests in herd's AArch64 syntax (issue #5, docs/litmus.md).

``parse_file`` reads a test, ``check`` answers Allowed / Forbidden / Required
for its final condition, or ``unsupported`` with the reason.
"""

from fpatch.litmus.engine import Answer, check
from fpatch.litmus.parse import Litmus, LitmusSyntaxError, LitmusUnsupported, parse_file

__all__ = ["Answer", "Litmus", "LitmusSyntaxError", "LitmusUnsupported", "check", "parse_file"]
