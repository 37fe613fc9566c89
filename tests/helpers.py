"""Small spec builders shared by the tests (specs as YAML text, as users write them)."""

from __future__ import annotations

from fpatch.spec import Spec, parse_text

FTRACE_HELPER = """
helpers:
  ftrace_caller:
    address: 0xffff800008010000
    inputs: [x9, x30, sp]
    returns_to: x30
    restores: {x30: x9}
    clobbers: [x9]
"""


def ftrace_spec(steps: str, cache: str = "{idc: false, dic: false}",
                env: str = "{preemptible: true, nmi: true}", extra: str = "") -> Spec:
    """The arm64 ftrace site (mov x9, x30 ; nop <-> bl ftrace_caller) with given steps."""
    text = f"""
fpatch: 1
cache: {cache}
env: {env}
{FTRACE_HELPER}
sites:
  func:
    base: 0xffff800008200000
    slots: 2
    states:
      OFF: [mov x9, nop]
      ON:
        - mov x9, x30
        - bl ftrace_caller
    initial: OFF
steps:
{steps}
{extra}
"""
    # `[mov x9, nop]` would split at the comma; write the OFF state out in full.
    text = text.replace("      OFF: [mov x9, nop]\n", "      OFF:\n        - mov x9, x30\n        - nop\n")
    return parse_text(text, "test.yaml")
