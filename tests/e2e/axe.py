"""axe-core (vendored by scripts/vendor) run in the page the browser test is looking at."""

from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = {"serious", "critical"}

# axe waits on timers between rules; a page opened with JavaScript disabled runs no timer
# callbacks, so during the run they become microtasks (which still run), then are restored.
RUN = """async () => {
  const [setTimer, clearTimer] = [window.setTimeout, window.clearTimeout];
  window.setTimeout = (callback, delay, ...args) => {
    Promise.resolve().then(() => callback(...args));
    return 0;
  };
  window.clearTimeout = () => {};
  try {
    return (await axe.run(document)).violations;
  } finally {
    [window.setTimeout, window.clearTimeout] = [setTimer, clearTimer];
  }
}"""


@cache
def _source() -> str:
    return AXE.read_text()


def violations(page) -> list[dict]:
    """The page's serious and critical accessibility violations (WCAG 2.1 A/AA and best
    practice), each with the rule, what it says and the elements it found. Works on pages
    with or without JavaScript and whatever their Content-Security-Policy (evaluated by the
    browser's debugger, not as a page script)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found = page.evaluate(RUN)
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
