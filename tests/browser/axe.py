"""axe-core in a Playwright page: the accessibility check of the browser tests.

axe-core is pinned in tests/browser/package-lock.json and installed by `.ci/system-deps`
(`npm ci`); it is injected from node_modules, never fetched from a CDN, so it runs under the
pages' own Content-Security-Policy (Playwright's add_script_tag would be blocked by it: the
script is evaluated through the DevTools protocol instead).
"""

from pathlib import Path

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page, *, impacts=BLOCKING) -> list[dict]:
    """The axe-core violations on the page as it is now (WCAG 2.x A and AA, best practices),
    only those of the given impacts, each with the selectors of the offending nodes."""
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: run `bash .ci/system-deps` (npm ci in tests/browser)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def assert_accessible(page, name: str = "") -> None:
    found = violations(page)
    assert not found, f"axe-core on {name or page.url}: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}" for v in found
    )
