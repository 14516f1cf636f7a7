"""Light and dark: the app follows the OS until told otherwise, and never starts white."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import register

DARK = re.compile(r"(^|[\s:])dark(\s|$)")
LIGHT = re.compile(r"(^|[\s:])light(\s|$)")

# The luminance (0 black .. 1 white) of what is painted behind the chat column: the first
# ancestor of <main> with a background of its own.
BACKGROUND_LUMINANCE = """() => {
  for (let el = document.querySelector("main"); el; el = el.parentElement) {
    const rgba = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g).map(Number);
    if (rgba.length === 4 && rgba[3] === 0) continue;
    const [r, g, b] = rgba;
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  }
  return null;
}"""


def looks_dark(page: Page) -> None:
    expect(page.locator("html")).to_have_class(DARK)
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.2


def looks_light(page: Page) -> None:
    expect(page.locator("html")).to_have_class(LIGHT)
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.8


def choose(page: Page, mode: str) -> None:
    page.get_by_test_id("theme-toggle").click()
    page.get_by_test_id(f"theme-{mode}").click()


def test_theme_follows_the_system(page: Page):
    page.emulate_media(color_scheme="dark")
    register(page)
    looks_dark(page)
    page.emulate_media(color_scheme="light")
    looks_light(page)
    page.emulate_media(color_scheme="dark")
    looks_dark(page)


def test_theme_switch_persists_across_reload(page: Page):
    page.emulate_media(color_scheme="light")
    register(page)
    looks_light(page)
    choose(page, "dark")
    looks_dark(page)
    page.reload()
    expect(page.get_by_test_id("composer")).to_be_visible()
    looks_dark(page)
    other = page.context.new_page()
    other.emulate_media(color_scheme="light")
    other.goto("/")
    expect(other.get_by_test_id("composer")).to_be_visible()
    looks_dark(other)
    choose(page, "system")
    looks_light(page)
    page.emulate_media(color_scheme="dark")
    looks_dark(page)


# Installed before any of the page's own scripts: at every frame, just before it is painted
# (requestAnimationFrame), notes the classes of <html> and of the Radix Themes root when they
# differ from the last frame's. The first entry is the first frame ever painted.
RECORD_FRAMES = """
window.__frames = [];
const sample = () => {
  const root = document.querySelector(".radix-themes");
  const now = "html:" + document.documentElement.className + " root:" + (root ? root.className : "-");
  if (window.__frames.at(-1) !== now) window.__frames.push(now);
  requestAnimationFrame(sample);
};
requestAnimationFrame(sample);
"""


def test_no_flash_of_wrong_theme(page: Page):
    page.emulate_media(color_scheme="light")
    register(page)
    choose(page, "dark")
    looks_dark(page)
    page.add_init_script(RECORD_FRAMES)
    page.reload()
    expect(page.get_by_test_id("composer")).to_be_visible()
    looks_dark(page)
    frames = page.evaluate("() => window.__frames")
    assert DARK.search(frames[0].split()[0]), frames  # dark from the very first frame
    assert not [frame for frame in frames if LIGHT.search(frame)], frames
