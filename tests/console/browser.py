"""Browser helpers for the console tests: keyboard navigation and accessibility checks run in
the real page (computed styles, labels), and screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: JS: every visible form control without an accessible label (label[for], wrapping label,
#: aria-label or aria-labelledby)
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""

#: JS: WCAG contrast ratio of text against its effective background, for each selector
CONTRAST = """(selectors) => {
  const lum = (rgb) => {
    const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (el.offsetParent === null) continue;
      const fg = parse(getComputedStyle(el).color).slice(0, 3);
      const [a, b] = [lum(fg), lum(bg(el))].sort((x, y) => y - x);
      out.push({sel, text: el.textContent.trim().slice(0, 40), ratio: (a + 0.05) / (b + 0.05)});
    }
  }
  return out;
}"""
TEXT_SELECTORS = ["body", "h1", "h2", "p", "label", "a", "button", "th", "td", ".muted",
                  ".hint", ".error", ".state", ".problem", "nav a", "legend"]


def check_accessibility(page: Any) -> None:
    """Labels on every input; text contrast at least 4.5:1 (WCAG AA) for the page's text."""
    unlabelled = page.evaluate(UNLABELLED)
    assert unlabelled == [], f"inputs without a label on {page.url}: {unlabelled}"
    low = [c for c in page.evaluate(CONTRAST, TEXT_SELECTORS) if c["ratio"] < 4.5]
    assert low == [], f"text below 4.5:1 contrast on {page.url}: {low[:5]}"


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"{page.url} scrolls sideways at {width[1]}px: {width}"


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab on {page.url}")


def shot(page: Any, folder: Path, name: str, index: list[str], what: str) -> None:
    """A full-page screenshot ``NN-name.png``; ``index`` collects 'file: what it shows'."""
    path = folder / f"{len(index) + 1:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    index.append(f"{path.name}: {what}")
