"""Charts and logos rendered in code, each kind drawn afresh for every generator state (sizes,
colours, counts), for measuring and testing the "chart" and "logo" rules of `image_type`.

    rng = np.random.default_rng(0)
    image = bar_chart(rng)  # 400-1200 pixels wide, 3-11 bars, axes with numbers
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from support.documents import font

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]
AXIS: Color = (40, 40, 40)
WHITE: Color = (255, 255, 255)
GRID: Color = (222, 222, 222)
MARKS = ("ACME", "Nordwind", "blu", "ZETA", "Harbor", "kite", "OMNI", "Lumo", "Vexa", "Pinecone")


def colour(rng: np.random.Generator) -> Color:
    red, green, blue = (int(value) for value in rng.integers(20, 236, 3))
    return red, green, blue


def _canvas(rng: np.random.Generator, background: Color = WHITE) -> tuple[Image.Image, Box]:
    """A chart's canvas and its plot area."""
    width = int(rng.integers(400, 1200))
    height = int(width * rng.uniform(0.55, 0.8))
    image = Image.new("RGB", (width, height), background)
    return image, (int(width * 0.12), int(height * 0.12), int(width * 0.95), int(height * 0.85))


def _axes(draw: ImageDraw.ImageDraw, plot: Box, rng: np.random.Generator, grid: bool) -> None:
    """Axes with numbered ticks on the left, and optionally grid lines."""
    left, top, right, bottom = plot
    step = int(rng.integers(5, 50))
    face = font(max(10, (bottom - top) // 25))
    for tick in range(6):
        y = bottom - (bottom - top) * tick // 5
        if grid and tick:
            draw.line([(left, y), (right, y)], fill=GRID)
        draw.line([(left - 5, y), (left, y)], fill=AXIS)
        draw.text((left - 8, y), str(tick * step), fill=AXIS, font=face, anchor="rm")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS, width=2)


def bar_chart(rng: np.random.Generator) -> Image.Image:
    """Upright bars (or lying ones, one in four) in one or several colours, with a title."""
    background = WHITE if rng.random() < 0.7 else (245, 245, 240)
    image, plot = _canvas(rng, background)
    left, top, right, bottom = plot
    draw = ImageDraw.Draw(image)
    count = int(rng.integers(3, 12))
    single = colour(rng) if rng.random() < 0.5 else None
    lying = rng.random() < 0.25
    grid = bool(rng.random() < 0.5)
    label = font(max(10, image.height // 40))
    for index in range(count):
        fill = single or colour(rng)
        value = rng.uniform(0.1, 1.0)
        if lying:
            slot = (bottom - top) / count
            y0, y1 = top + (index + 0.15) * slot, top + (index + 0.85) * slot
            draw.rectangle([left, y0, left + (right - left) * value, y1], fill=fill)
        else:
            slot = (right - left) / count
            x0, x1 = left + (index + 0.15) * slot, left + (index + 0.85) * slot
            draw.rectangle([x0, bottom - (bottom - top) * value, x1, bottom], fill=fill)
            centre = left + (index + 0.5) * slot
            draw.text((centre, bottom + 6), f"Q{index + 1}", fill=AXIS, font=label, anchor="ma")
    _axes(draw, plot, rng, grid)
    title = font(max(12, image.height // 25), bold=True)
    draw.text((image.width // 2, image.height * 0.03), "Sales", fill=AXIS, font=title, anchor="ma")
    return image


def line_chart(rng: np.random.Generator) -> Image.Image:
    """One to three random-walk series over axes, with or without grid lines."""
    image, plot = _canvas(rng)
    left, top, right, bottom = plot
    draw = ImageDraw.Draw(image)
    _axes(draw, plot, rng, bool(rng.random() < 0.5))
    for _series in range(int(rng.integers(1, 4))):
        count = int(rng.integers(6, 30))
        walk = np.cumsum(rng.normal(0, 1, count))
        walk = (walk - walk.min()) / (np.ptp(walk) + 1e-9)
        points = [
            (left + (right - left) * i / (count - 1), bottom - (bottom - top) * (0.1 + 0.8 * v))
            for i, v in enumerate(walk)
        ]
        draw.line(points, fill=colour(rng), width=int(rng.integers(2, 5)))
    return image


def pie_chart(rng: np.random.Generator) -> Image.Image:
    """Three to seven sectors and a legend of coloured squares."""
    width = int(rng.integers(400, 1000))
    height = int(width * rng.uniform(0.6, 0.9))
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    radius, centre_x, centre_y = int(min(width, height) * 0.38), int(width * 0.4), height // 2
    disc = [centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius]
    parts = rng.dirichlet(np.ones(int(rng.integers(3, 8)))) * 360
    face = font(max(10, height // 35))
    start = 0.0
    for index, part in enumerate(parts):
        fill = colour(rng)
        draw.pieslice(disc, start, start + part, fill=fill)
        start += part
        x, y = int(width * 0.8), int(height * 0.2) + index * int(height * 0.08)
        draw.rectangle([x, y, x + 12, y + 12], fill=fill)
        draw.text((x + 18, y), f"Item {index + 1}", fill=AXIS, font=face)
    return image


def logo(rng: np.random.Generator) -> Image.Image:
    """A word mark, a shape, or a shape over a word, centred on white or a flat colour; 128 to
    800 pixels wide, square or wide."""
    width = int(rng.choice([128, 200, 256, 400, 600, 800]))
    height = int(width * rng.choice([1.0, 0.5, 0.75]))
    background = WHITE if rng.random() < 0.6 else colour(rng)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    fill = colour(rng)
    kind = int(rng.integers(0, 3))
    mark = str(rng.choice(MARKS))
    if kind == 0:
        face = font(int(height * rng.uniform(0.18, 0.35)), bold=bool(rng.random() < 0.7))
        draw.text((width // 2, height // 2), mark, fill=fill, font=face, anchor="mm")
        return image
    radius = int(min(width, height) * rng.uniform(0.15, 0.3))
    x, y = width // 2, height // 2 if kind == 1 else int(height * 0.4)
    _shape(draw, int(rng.integers(0, 4)), (x, y), radius, fill)
    if rng.random() < 0.5:
        half = radius // 2
        draw.ellipse([x - half, y - half, x + half, y + half], fill=colour(rng))
    if kind == 2:
        face = font(max(9, int(height * 0.12)), bold=True)
        draw.text((x, y + radius + int(height * 0.06)), mark, fill=fill, font=face, anchor="ma")
    return image


def _shape(
    draw: ImageDraw.ImageDraw, kind: int, centre: tuple[int, int], radius: int, fill: Color
) -> None:
    x, y = centre
    box = [x - radius, y - radius, x + radius, y + radius]
    if kind == 0:
        draw.ellipse(box, fill=fill)
    elif kind == 1:
        draw.rectangle(box, fill=fill)
    elif kind == 2:
        draw.polygon(
            [(x, y - radius), (x + radius, y + radius), (x - radius, y + radius)], fill=fill
        )
    else:
        star = [
            (
                x
                + (radius if k % 2 == 0 else radius * 0.45)
                * math.cos(math.pi * k / 5 - math.pi / 2),
                y
                + (radius if k % 2 == 0 else radius * 0.45)
                * math.sin(math.pi * k / 5 - math.pi / 2),
            )
            for k in range(10)
        ]
        draw.polygon(star, fill=fill)


def on_white(photo: Image.Image, scale: float, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo shrunk to `scale` of `size` and centred on white, as a product shot."""
    small = photo.convert("RGB")
    small.thumbnail((int(size[0] * scale), int(size[1] * scale)))
    canvas = Image.new("RGB", size, WHITE)
    canvas.paste(small, ((size[0] - small.width) // 2, (size[1] - small.height) // 2))
    return canvas
