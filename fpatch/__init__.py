"""fpatch: a model checker for live code patching on AArch64."""

__version__ = "0.1.0"
