"""SARIF output validates against the official 2.1.0 schema and carries what code scanning needs."""

import json
from pathlib import Path

import jsonschema
from conftest import BUGGY

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def test_sarif_is_valid_and_complete(run, project):
    project({"src/app.py": BUGGY})
    result = run("lint", "--no-cache", "--output-format", "sarif", "src")
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, SCHEMA)
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert {"CG101", "CG000"} <= {r["id"] for r in rules}
    cg101 = next(r for r in rules if r["id"] == "CG101")
    assert cg101["name"] == "imagenet-normalization"
    assert (
        cg101["shortDescription"]["text"]
        and cg101["fullDescription"]["text"]
        and cg101["help"]["text"]
    )
    (res,) = run_["results"]
    assert res["ruleId"] == "CG101" and res["level"] == "error"
    assert rules[res["ruleIndex"]]["id"] == "CG101"
    location = res["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/app.py"
    assert location["region"]["startLine"] == 9 and location["region"]["startColumn"] >= 1
    assert res["partialFingerprints"]["primaryLocationLineHash"]


def test_fingerprint_is_stable_when_lines_move(run, project):
    root = project({"app.py": BUGGY})
    first = json.loads(run("lint", "--no-cache", "--output-format", "sarif", "app.py").stdout)
    (root / "app.py").write_text("# a new first line\n" + BUGGY)
    second = json.loads(run("lint", "--no-cache", "--output-format", "sarif", "app.py").stdout)
    fp = [r["runs"][0]["results"][0]["partialFingerprints"] for r in (first, second)]
    assert fp[0] == fp[1]


def test_empty_run_is_valid(run, project):
    project({"app.py": "x = 1\n"})
    sarif = json.loads(run("lint", "--output-format", "sarif", "app.py").stdout)
    jsonschema.validate(sarif, SCHEMA)
    assert sarif["runs"][0]["results"] == []
