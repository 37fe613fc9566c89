"""CI formats of a ``fpatch check`` run: SARIF 2.1.0 and JUnit XML (docs/ci.md).

Both are built from one list of ``Checked`` records (a spec file with its
result, or with the problems that made it invalid) and are deterministic: no
timestamps, host names or timings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpatch import __version__
from fpatch.errors import Diagnostic, Loc
from fpatch.spec.types import Spec
from fpatch.textsafe import xml_escape as escape
from fpatch.textsafe import xml_quoteattr as quoteattr
from fpatch.verdict import SAFE, UNKNOWN, UNSAFE, Counterexample, Result

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class Checked:
    """One spec file of a run: checked (spec and result) or invalid (diagnostics)."""

    path: str
    spec: Spec | None = None
    result: Result | None = None
    errors: tuple[Diagnostic, ...] = ()


# rule id, name, short description, full description
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("torn", "TornFetch", "An observer can fetch a torn instruction word.",
     "A non-atomic write leaves a slot holding part old, part new bytes, and an observer's "
     "fetch window includes that point."),
    ("cmodx", "CmodxUnpredictable", "Concurrent modification outside the CMODX set.",
     "An observer's fetch window holds two different words, not both in the Arm ARM's CMODX "
     "set: the fetched instruction is CONSTRAINED UNPREDICTABLE."),
    ("undefined", "UndefinedInstruction", "An observer can execute an undefined encoding.",
     "An observer executes an encoding that is not a valid instruction of the supported set."),
    ("bti", "BranchTargetException", "An indirect branch can land on a non-landing pad.",
     "With BTI-guarded pages (env.bti), an observer entering the site indirectly, or a br/blr "
     "of the run, can fetch a word at its target that is not a landing pad for the branch "
     "(bti c/j/jc, paciasp, pacibsp as the Arm ARM lists): a Branch Target exception."),
    ("inequivalent", "InequivalentEffect", "An interleaving has an effect of no valid state.",
     "Some run's effect (exit, live registers, memory, helper calls) differs from every valid "
     "state's complete execution from the same initial state."),
    ("stale", "StaleAfterCompletion", "New code may never run after the sequence.",
     "An observer whose last CSE is at or after the final point can still fetch a word that "
     "is not the final state's (missing or misordered cache maintenance)."),
    ("incomplete", "IncompleteAtReturn", "A CPU may still run old code after a `complete:` "
     "mark.",
     "After a mark listed in `complete:` (or the end) every CPU must execute the site's words "
     "as they are there, but an observer that took no context synchronization event since the "
     "write was published can still fetch a word from before the mark (an ipi_sync or the end "
     "of a stop_machine is missing)."),
    ("data", "DataValue", "A load can return a data word value the state does not accept.",
     "Site code or a helper loads a data word (e.g. an ftrace_ops literal) while the patcher "
     "writes it and can read a value not valid with the state the run matches, such as a "
     "torn half-written pointer."),
    ("unknown", "Unknown", "The checker could not decide the spec.",
     "A solver query timed out, the max_insns bound could be reached, or a construct is not "
     "modelled; the answer is unknown, never safe."),
    ("expectation", "UnmetExpectation", "The spec expected unsafe but it is safe.",
     "The spec says `expect: unsafe` but no observer has a violation."),
    ("invalid-spec", "InvalidSpec", "The spec file is not a valid fpatch spec.",
     "The spec could not be parsed or validated."),
)
RULE_INDEX = {r[0]: i for i, r in enumerate(RULES)}

# Where each rule is documented: a page and a section heading of fpatch's docs/ (the tests
# check that both exist), said in each rule's `help` with the command that ships with the tool.
RULE_DOCS: dict[str, tuple[str, str]] = {
    "torn": ("docs/model.md", "Torn words"),
    "cmodx": ("docs/model.md", "CMODX"),
    "undefined": ("docs/model.md", "Execution and effects"),
    "bti": ("docs/model.md", "BTI and PAC"),
    "inequivalent": ("docs/model.md", "Execution and effects"),
    "stale": ("docs/model.md", "Publication"),
    "incomplete": ("docs/model.md", "Completion at return"),
    "data": ("docs/model.md", "Data words"),
    "unknown": ("docs/model.md", "Verdicts"),
    "expectation": ("docs/ci.md", "fpatch in CI"),
    "invalid-spec": ("docs/spec-format.md", "The fpatch spec format (version 1)"),
}


def run_path(cx: Counterexample) -> str:
    """The sites and slots a run through several sites (code graph) executed, in order;
    empty for a run inside one site (the site is named already)."""
    if not any(x.site for x in cx.execs):
        return ""
    return " [run: " + " -> ".join(f"{x.site} slot {x.slot} `{x.text}`" for x in cx.execs) + "]"


def rule_help(rid: str, full: str) -> str:
    page, section = RULE_DOCS[rid]
    how = ("`fpatch validate SPEC` lists every problem" if rid == "invalid-spec" else
           "`fpatch explain SPEC` prints the counterexample's timeline and what is missing")
    return f"{full} {how}; fpatch's {page}, section \"{section}\", explains the rule."


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def _location(loc: Loc | None, path: str) -> dict[str, Any]:
    region = ({"startLine": loc.line, "startColumn": max(loc.col, 1)} if loc
              else {"startLine": 1, "startColumn": 1})
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(loc.file if loc else path)},
                                 "region": region}}


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _result(rule: str, level: str, text: str, loc: Loc | None, path: str,
            props: dict[str, Any], fp: tuple[str, ...]) -> dict[str, Any]:
    return {
        "ruleId": rule, "ruleIndex": RULE_INDEX[rule], "level": level,
        "message": {"text": text},
        "locations": [_location(loc, path)],
        "partialFingerprints": {"fpatchResult/v1": _fingerprint(*fp)},
        "properties": props,
    }


def cx_loc(spec: Spec | None, cx: Counterexample) -> Loc | None:
    """Where a violation is reported: the step or state that causes it, else the site, else
    the spec's top."""
    if cx.loc is not None:
        return cx.loc
    if spec is not None:
        try:
            return spec.site(cx.site).loc
        except KeyError:
            return spec.loc
    return None


def sarif_log(items: list[Checked]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for it in items:
        if it.result is None:
            for d in sorted(it.errors):
                results.append(_result("invalid-spec", "error", d.message, d.loc, it.path,
                                       {"spec": it.path},
                                       (it.path, "invalid-spec", str(d.loc), d.message)))
            continue
        res, spec = it.result, it.spec
        expected = res.expect == UNSAFE
        top = spec.loc if spec else None
        for cx in res.counterexamples:
            text = (f"{cx.violation} (site {cx.site}, observer {cx.observer}): {cx.detail}"
                    f"{run_path(cx)}")
            r = _result(cx.violation, "note" if expected else "error", text,
                        cx_loc(spec, cx), it.path,
                        {"spec": it.path, "site": cx.site, "observer": cx.observer,
                         "violation": cx.violation, "expected": expected,
                         "summary": cx.summary},
                        (it.path, cx.site, cx.observer, cx.violation))
            if expected:
                r["suppressions"] = [{"kind": "inSource",
                                      "justification": "the spec says `expect: unsafe`"}]
            results.append(r)
        for o in res.observers:
            if o.status == UNKNOWN:
                why = "; ".join(o.reasons) or "no reason given"
                results.append(_result(
                    "unknown", "warning",
                    f"unknown for site {o.site}, observer {o.observer}: {why}", top, it.path,
                    {"spec": it.path, "site": o.site, "observer": o.observer},
                    (it.path, o.site, o.observer, "unknown")))
        if expected and res.verdict == SAFE:
            loc = spec.key_locs.get("expect", top) if spec else None
            results.append(_result("expectation", "error",
                                   "expected unsafe, but every observer is safe", loc, it.path,
                                   {"spec": it.path}, (it.path, "expectation")))
    rules = [{"id": rid, "name": name, "shortDescription": {"text": short},
              "fullDescription": {"text": full}, "help": {"text": rule_help(rid, full)},
              "defaultConfiguration": {"level": "warning" if rid == "unknown" else "error"}}
             for rid, name, short, full in RULES]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "fpatch", "version": __version__,
                                "semanticVersion": __version__, "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


# ------------------------------------------------------------------ JUnit


def _case(name: str, classname: str, body: str = "") -> str:
    head = f"    <testcase name={quoteattr(name)} classname={quoteattr(classname)}"
    return f"{head}/>" if not body else f"{head}>\n{body}    </testcase>"


def _elem(tag: str, message: str, kind: str, text: str) -> str:
    return (f"      <{tag} message={quoteattr(message)} type={quoteattr(kind)}>"
            f"{escape(text)}</{tag}>\n")


def junit_xml(items: list[Checked]) -> str:
    """One <testsuite> per spec, one <testcase> per site/observer (docs/ci.md)."""
    suites = []
    tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for it in items:
        cases: list[str] = []
        cnt = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        name = it.spec.name if it.spec else Path(it.path).stem
        if it.result is None:
            text = "\n".join(str(d) for d in sorted(it.errors))
            first = str(sorted(it.errors)[0]) if it.errors else "invalid spec"
            cases.append(_case("validate", name, _elem("error", first, "invalid-spec", text)))
            cnt["tests"] += 1
            cnt["errors"] += 1
        else:
            res = it.result
            expected = res.expect == UNSAFE
            for o in res.observers:
                cnt["tests"] += 1
                cxs = o.counterexamples
                body = ""
                if o.status == UNKNOWN:
                    why = "; ".join(o.reasons) or "no reason given"
                    body = _elem("error", f"unknown: {why}", "unknown",
                                 "the checker could not decide; unknown is never a pass")
                    cnt["errors"] += 1
                elif o.status == UNSAFE and not expected:
                    body = _elem("failure", cxs[0].summary if cxs else "unsafe", "unsafe",
                                 "\n\n".join(f"{c.summary}\n{c.detail}{run_path(c)}"
                                              for c in cxs))
                    cnt["failures"] += 1
                elif o.status == UNSAFE:
                    kinds = ", ".join(sorted({c.violation for c in cxs}))
                    body = (f"      <system-out>{escape(f'unsafe as expected: {kinds}')}"
                            "</system-out>\n")
                cases.append(_case(f"{o.site}/{o.observer}", name, body))
            if expected:
                cnt["tests"] += 1
                body = ""
                if res.verdict == SAFE:
                    body = _elem("failure", "expected unsafe, but every observer is safe",
                                 "expectation", "remove `expect: unsafe` or fix the model")
                    cnt["failures"] += 1
                elif res.verdict == UNKNOWN:
                    body = _elem("error", "expected unsafe, but the answer is unknown",
                                 "unknown", "unknown is never a pass")
                    cnt["errors"] += 1
                cases.append(_case("expect: unsafe", name, body))
        for k in tot:
            tot[k] += cnt[k]
        suites.append(
            f"  <testsuite name={quoteattr(name)} tests=\"{cnt['tests']}\" "
            f"failures=\"{cnt['failures']}\" errors=\"{cnt['errors']}\" "
            f"skipped=\"{cnt['skipped']}\" file={quoteattr(it.path)}>\n"
            + "".join(c + "\n" for c in cases) + "  </testsuite>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<testsuites name=\"fpatch\" tests=\"{tot['tests']}\" "
            f"failures=\"{tot['failures']}\" errors=\"{tot['errors']}\">\n"
            + "".join(suites) + "</testsuites>\n")
