"""Page-wide checks the browser tests run on every page of the web app: nothing wider than the
screen, and every visible text legible against what is behind it (WCAG 2.x AA contrast)."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page


@dataclass(frozen=True)
class Offender:
    selector: str
    text: str
    ratio: float
    needed: float

    def __str__(self) -> str:
        return f"{self.selector} “{self.text}”: {self.ratio:.2f}:1 (needs {self.needed:g}:1)"


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def low_contrast(page: Page) -> list[Offender]:
    """The visible texts whose contrast with their effective background is under AA: 4.5:1,
    or 3:1 for large text (24 px, or bold from 18.66 px)."""
    found = page.evaluate(_CONTRAST_JS)
    return [Offender(**item) for item in found]


# Colours are read through a canvas, which understands every CSS colour syntax the computed
# style may give (rgb(), color(srgb …), color-mix results). The background of an HTML text is
# its ancestors' background colours composited up to the first opaque one; an SVG text's is the
# shape painted under its centre, on its HTML background. Text over a picture (a background
# image) has no single background colour: it is left out, as are disabled controls and their
# labels (WCAG exempts them) and screen-reader-only text.
_CONTRAST_JS = """() => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "#000";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, below) => {
    const a = top[3] + below[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    const mix = (i) => (top[i] * top[3] + below[i] * below[3] * (1 - top[3])) / a;
    return [mix(0), mix(1), mix(2), a];
  };
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const describe = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) part += `#${node.id}`;
      const classes = [...node.classList].slice(0, 2);
      if (classes.length) part += `.${classes.join(".")}`;
      parts.unshift(part);
      if (node.id || parts.length === 3) break;
    }
    return parts.join(" > ");
  };
  // The colour behind `el` from its ancestors, or null where a picture is behind it.
  const htmlBackground = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== "none") return null;
      const colour = rgba(style.backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 1) break;
    }
    return layers.reduceRight((below, top) => over(top, below), [255, 255, 255, 1]);
  };
  // The shapes painted before the text (document order is paint order) under its centre.
  const svgBackground = (el) => {
    const box = el.getBoundingClientRect();
    const x = box.left + box.width / 2;
    const y = box.top + box.height / 2;
    const svg = el.ownerSVGElement;
    let below = htmlBackground(svg);
    if (!below) return null;
    for (const node of svg.querySelectorAll("rect, circle, ellipse, path, polygon, image")) {
      if (!(node.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
      const shape = node.getBoundingClientRect();
      const under = shape.left <= x && x <= shape.right && shape.top <= y && y <= shape.bottom;
      if (!under || !node.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) {
        continue;
      }
      if (node instanceof SVGImageElement) return null;
      const style = getComputedStyle(node);
      if (style.fill === "none") continue;
      const fill = rgba(style.fill);
      fill[3] *= Number(style.fillOpacity) * opacity(node);
      below = over(fill, below);
    }
    return below;
  };
  const opacity = (el) => {
    let value = 1;
    for (let node = el; node; node = node.parentElement) {
      value *= Number(getComputedStyle(node).opacity);
    }
    return value;
  };
  const offenders = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || seen.has(el)) continue;
    seen.add(el);
    if (el.closest("script, style, noscript, option, [hidden]")) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (el.closest(":disabled, [aria-disabled=true]") || el.closest("label")?.control?.disabled) {
      continue;
    }
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const style = getComputedStyle(el);
    if (style.clip === "rect(0px, 0px, 0px, 0px)" || style.clipPath === "inset(50%)") continue;
    const isSvg = el instanceof SVGElement;
    const background = isSvg ? svgBackground(el) : htmlBackground(el);
    if (!background) continue;
    const fg = rgba(isSvg ? style.fill : style.color);
    fg[3] *= opacity(el) * (isSvg ? Number(style.fillOpacity) : 1);
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const value = ratio(over(fg, background), background);
    if (value < needed - 0.005) {
      const rounded = Math.round(value * 100) / 100;
      offenders.push({ selector: describe(el), text: text.slice(0, 60), ratio: rounded, needed });
    }
  }
  return offenders;
}"""
