"""axe-core (vendored by scripts/vendor) run in the page the browser test is looking at."""

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def violations(page) -> list[dict]:
    """The page's serious and critical accessibility violations (WCAG 2.1 A/AA and best
    practice), each with the rule, what it says and the elements it found."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in found
        if v["impact"] in BLOCKING
    ]


def assert_accessible(page) -> None:
    problems = violations(page)
    assert not problems, f"{page.url}: {problems}"
