"""`--output-format`: text (report.py), JSON as docs/design.md fixes it, GitHub Actions workflow
commands, and JUnit XML (one test case per probe) for CI systems."""

from __future__ import annotations

import json
import math
from typing import Any
from xml.etree import ElementTree

from clipguard.check.causes import CAUSES
from clipguard.check.evaluate import FAILING, CheckResult
from clipguard.check.loading import split_target
from clipguard.check.report import evidence_line, input_line, render_text, suggestion_line

SUITE = "clipguard check"


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays unwrapped, non-finite floats as null."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(result: CheckResult) -> dict:
    """The shape of docs/design.md: verdict, model, n_px, causes, probes, and the additions."""
    cosines = (result.impact or {}).get("probes", {})
    probes = []
    for c in result.comparisons:
        entry = {
            "name": c.probe,
            "mode": c.mode,
            "size": list(c.size),
            "status": c.status,
            "max_abs": c.max_abs,
            "mean_abs": c.mean_abs,
        }
        if cosines:
            entry["cosine"] = cosines.get(c.probe)
        probes.append(entry)
    return jsonable(
        {
            "verdict": "pass" if result.passed else "fail",
            "model": result.profile.name,
            "n_px": result.profile.n_px,
            "causes": [
                dict(cause.to_json(), meaning=CAUSES[cause.id].meaning) for cause in result.causes
            ],
            "probes": probes,
            "unexplained": [c.probe for c in result.unexplained],
            "skipped": result.skipped,
            "input": result.run.input_form,
            "suggested_model": result.suggestion,
            "impact": result.impact,
            "notes": result.notes,
        }
    )


def render_json(result: CheckResult) -> str:
    """`to_json` as strict JSON text."""
    return json.dumps(to_json(result), indent=2, allow_nan=False) + "\n"


def _escape(text: str, property_value: bool = False) -> str:
    """GitHub workflow-command escaping (as actions/toolkit's `escapeData`/`escapeProperty`)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _file(result_target: str) -> str:
    path, _ = split_target(result_target)
    return path if path.endswith(".py") else ""


def _command(level: str, title: str, message: str, target: str) -> str:
    where = f"file={_escape(_file(target), True)}," if _file(target) else ""
    return f"::{level} {where}title={_escape(title, True)}::{_escape(message)}"


def render_github(result: CheckResult) -> str:
    """One workflow command per cause (a warning when accepted), per unexplained probe, and a
    notice with the verdict."""
    lines = []
    for cause in result.causes:
        level = "warning" if cause.accepted else "error"
        message = (
            f"{cause.id} on {len(cause.probes)} probes ({CAUSES[cause.id].meaning}): "
            f"{evidence_line(cause.evidence)}" + (f"\nfix: {cause.fix}" if cause.fix else "")
        )
        lines.append(_command(level, f"{SUITE} ({cause.id})", message, result.target))
    for c in result.unexplained:
        message = f"{c.probe} ({c.mode}, {c.size[0]}x{c.size[1]}) {c.status}, no cause named: " + (
            f"max abs {c.max_abs:.4g}, mean abs {c.mean_abs:.4g}"
            if c.max_abs is not None
            else str(c.error or c.shape)
        )
        lines.append(_command("error", f"{SUITE} (unexplained)", message, result.target))
    if result.suggestion:
        lines.append(
            _command(
                "notice", f"{SUITE} (profile)", suggestion_line(result.suggestion), result.target
            )
        )
    verdict = "passed" if result.passed else "failed"
    summary = (
        f"{result.pipeline} {verdict} against {result.profile.name}: "
        f"{len(result.failing)} of {len(result.comparisons)} probes differ"
    )
    lines.append(_command("notice", SUITE, summary, result.target))
    return "\n".join(lines) + "\n"


def _testsuite(name: str, tests: int, failures: int, errors: int) -> ElementTree.Element:
    suites = ElementTree.Element("testsuites")
    ElementTree.SubElement(
        suites,
        "testsuite",
        name=name,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
    )
    return suites


def render_junit(result: CheckResult) -> str:
    """JUnit XML: a test case per probe; a failing one names its causes and numbers."""
    by_probe: dict[str, list] = {}
    for cause in result.causes:
        for name in cause.probes:
            by_probe.setdefault(name, []).append(cause)
    failures = [
        c
        for c in result.failing
        if not by_probe.get(c.probe) or not all(x.accepted for x in by_probe[c.probe])
    ]
    suites = _testsuite(SUITE, len(result.comparisons), len(failures), 0)
    suite = suites[0]
    properties = ElementTree.SubElement(suite, "properties")
    for key, value in (
        ("target", result.target),
        ("pipeline", result.pipeline),
        ("model", result.profile.name),
        ("input", result.run.input_form),
    ):
        ElementTree.SubElement(properties, "property", name=key, value=str(value))
    classname = f"{result.target}:{result.pipeline}"
    for c in result.comparisons:
        case = ElementTree.SubElement(suite, "testcase", classname=classname, name=c.probe)
        causes = by_probe.get(c.probe, [])
        numbers = (
            f"max abs {c.max_abs:.4g}, mean abs {c.mean_abs:.4g}"
            if c.max_abs is not None
            else str(c.error or c.shape)
        )
        named = ", ".join(x.id + (" (accepted)" if x.accepted else "") for x in causes)
        if c in failures:
            failure = ElementTree.SubElement(
                case,
                "failure",
                type=c.status,
                message=f"{c.status}: {numbers}; causes: {named or 'unexplained'}",
            )
            failure.text = "\n".join(f"{x.id}: {x.fix}" for x in causes if x.fix)
        elif c.status in FAILING:
            ElementTree.SubElement(case, "system-out").text = f"accepted drift: {numbers}; {named}"
    if input_line(result):
        ElementTree.SubElement(suite, "system-out").text = input_line(result)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def render(output_format: str, result: CheckResult) -> str:
    """The report in one of text, json, github, junit."""
    return {
        "text": render_text,
        "json": render_json,
        "github": render_github,
        "junit": render_junit,
    }[output_format](result)


def render_error(output_format: str, target: str, message: str) -> str:
    """What stdout gets when the check could not run (exit 2), in a machine format."""
    if output_format == "json":
        error = {
            "verdict": "error",
            "error": message,
            "model": None,
            "n_px": None,
            "causes": [],
            "probes": [],
        }
        return json.dumps(error, indent=2) + "\n"
    if output_format == "github":
        return _command("error", SUITE, message, target) + "\n"
    suites = _testsuite(SUITE, 1, 0, 1)
    case = ElementTree.SubElement(suites[0], "testcase", classname=target, name="run")
    ElementTree.SubElement(case, "error", type="cannot-run", message=message)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
