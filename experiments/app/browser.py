"""Driving the page in headless Chromium (Playwright): the latency benchmark and the browser
tests share these helpers. Playwright's own browser download is not used: Debian's
`chromium` is (`.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from innosd.errors import ConfigError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LOAD_TIMEOUT_MS = 120_000  # the first page of a fresh process compiles and runs the baseline

# Panel renders each pane in its own shadow root: find the run counter through them once,
# then watch its container every animation frame. `__innosd_done` is set one frame after
# the counter changed, i.e. once the browser has painted the document message that carried
# the new figures (the counter travels in that same message).
WATCH_JS = """
() => {
  const deep = (root) => {
    const hit = root.querySelector('#run-counter');
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const found = deep(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  if (!window.__innosd_box) {
    window.__innosd_box = deep(document).parentNode;
    window.addEventListener('keydown', () => { window.__innosd_t0 = performance.now(); }, true);
  }
  const box = window.__innosd_box;
  const before = box.querySelector('#run-counter').textContent;
  window.__innosd_done = 0;
  const watch = () => {
    const now = box.querySelector('#run-counter');
    if (now && now.textContent !== before) {
      requestAnimationFrame(() => { window.__innosd_done = performance.now(); });
    } else {
      requestAnimationFrame(watch);
    }
  };
  requestAnimationFrame(watch);
  return before;
}
"""


def chromium_path(explicit: str | None = None) -> str | None:
    """The Chromium executable: `explicit`, $INNOSD_CHROMIUM, Debian's, or one on PATH."""
    for candidate in (explicit, os.environ.get("INNOSD_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright, explicit: str | None = None):
    path = chromium_path(explicit)
    if path is None:
        raise ConfigError("no Chromium found (looked for --chromium, $INNOSD_CHROMIUM, /usr/bin/chromium); "
                          "install it: sudo apt-get install chromium")
    return playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.locator("#run-counter").wait_for(state="attached", timeout=LOAD_TIMEOUT_MS)
    return page


def slider_handle(page, lever: str, index: int = 0):
    """The handle of a lever's slider: 0 change, 1 start year, 2 ramp."""
    return page.locator(f".lever-{lever} .noUi-handle").nth(index)


def press_and_time(page, key: str, timeout_ms: float = 30_000) -> float:
    """Press `key` on the focused slider; milliseconds from the key event to the painted redraw."""
    page.evaluate(WATCH_JS)
    page.keyboard.press(key)
    page.wait_for_function("() => window.__innosd_done > 0", polling="raf", timeout=timeout_ms)
    return float(page.evaluate("() => window.__innosd_done - window.__innosd_t0"))


def run_counter(page) -> int:
    return int(page.locator("#run-counter").text_content())


def probability(page, target: str) -> float:
    """The displayed probability of `indicator@year` (first plan stating it)."""
    return float(page.locator(f"[data-target='{target}'] .p").first.text_content())


def joint_probability(page, year: int) -> float:
    return float(page.locator(f"[data-joint='{year}'] .p").first.text_content())
