"""Layout marks of drawn graphics, measured on the shared small copy: the plain background and
where the drawing sits on it, aligned solid bars, a pair of axes and a divided disc. Image type
turns them into "chart" and "logo" (see `image_type`).

- Background: the most common exactly flat colour (5 bits a channel); a pixel more than
  `BACKGROUND_TOLERANCE` from its mean colour in any channel is content. `content_box` is the
  content's bounding box as a share of the picture and `content_offset` how far the box's
  centre is from the picture's, as a share of its width or height (the larger).
- Bars: exactly flat rectangles (one colour, filling at least `BAR_MIN_FILL` of their box)
  standing on a common base line (bottoms within `BAR_ALIGN` pixels, or left ends for
  horizontal bars), as thick as each other within a quarter, and not all as long: the largest
  such group's size. Table rows and toolbars have one length; buttons have no common base.
- Axes: a long dark vertical line (a third of the height) whose foot meets the left end of a
  long horizontal one (a third of the width), with no long line closing the box over them.
- Disc: the largest piece of content is as wide as tall, fills pi/4 of its box (a circle) and is
  cut into `DISC_MIN_SECTORS` or more flat colours each covering 5% of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Plane = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
Codes = npt.NDArray[np.int32]

BACKGROUND_TOLERANCE = 24
# Bars, axes and discs are looked for only where a background covers this share (charts: 0.58
# and more; most photos under 0.5), to spare photos the work.
MARKS_MIN_BACKGROUND = 0.5
SMOOTH_MAX_STEP = 32
# A line of axes is darker than this step from the background.
AXIS_STEP = 60
AXIS_MIN_LENGTH = 1 / 3
AXIS_JOIN = 4
BAR_MIN_FILL = 0.9
BAR_MIN_AREA = 20
BAR_ALIGN = 3
BAR_THICKNESS_SPREAD = 0.25
DISC_MIN_ASPECT = 0.95
DISC_FILL = (0.74, 0.82)
DISC_MIN_SECTORS = 2
DISC_SECTOR_SHARE = 0.05
DISC_MIN_SHARE = 0.1
# A pie's sectors lie off its centre; rings and dots of a round logo are centred on it.
DISC_SECTOR_SHIFT = 0.1


@dataclass(frozen=True)
class LayoutMarks:
    background_share: float
    content_box: float
    content_offset: float
    content_smooth: float
    bars: int
    axes: bool
    disc: bool


def layout_marks(pixels: Plane, steps: Plane, codes: Codes) -> LayoutMarks:
    """The layout marks of an (H, W, 3) picture whose neighbour steps are `steps` and whose
    `colour_codes` are `codes`."""
    height, width = steps.shape
    flat = steps == 0
    flat_counts = np.bincount(codes[flat], minlength=1 << 15)
    background_code = int(flat_counts.argmax())
    background = (codes == background_code) & flat
    if not background.any():
        return LayoutMarks(0.0, 1.0, 0.0, 1.0, 0, axes=False, disc=False)
    distance = _distance(pixels, pixels[background].mean(axis=0).round().astype(np.uint8))
    content = distance > BACKGROUND_TOLERANCE
    box, offset = _content_box(content)
    background_share = float(1.0 - content.mean())
    smooth = _smooth_share(steps[content])
    if background_share < MARKS_MIN_BACKGROUND:
        return LayoutMarks(background_share, box, offset, smooth, 0, axes=False, disc=False)
    return LayoutMarks(
        background_share=background_share,
        content_box=box,
        content_offset=offset,
        content_smooth=smooth,
        bars=_bars(codes, steps, content, height * width),
        axes=_axes(distance > AXIS_STEP),
        disc=_disc(content, codes, flat, height * width),
    )


def _distance(pixels: Plane, colour: Plane) -> Plane:
    """The largest channel difference from `colour`, kept in uint8 (several times faster)."""
    distance = np.zeros(pixels.shape[:2], dtype=np.uint8)
    for channel in range(3):
        plane = pixels[..., channel]
        level = colour[channel]
        np.maximum(distance, np.maximum(plane, level) - np.minimum(plane, level), out=distance)
    return distance


def _smooth_share(steps: Plane) -> float:
    """Smooth steps (a shade change, not an outline) per flat or smooth pixel."""
    flat = int((steps == 0).sum())
    smooth = int(((steps > 0) & (steps <= SMOOTH_MAX_STEP)).sum())
    return smooth / max(flat + smooth, 1)


def colour_codes(pixels: Plane) -> Codes:
    """Each pixel's colour at 5 bits a channel, as one number under 2**15."""
    coarse = (pixels >> 3).astype(np.int32)
    codes: Codes = (coarse[..., 0] << 10) | (coarse[..., 1] << 5) | coarse[..., 2]
    return codes


def _content_box(content: npt.NDArray[np.bool_]) -> tuple[float, float]:
    # The first and last rows and columns holding content, without listing every pixel.
    rows, columns = np.asarray(content.any(axis=1)), np.asarray(content.any(axis=0))
    if not rows.any():
        return 0.0, 0.0
    height, width = content.shape
    top, bottom = int(rows.argmax()), height - 1 - int(rows[::-1].argmax())
    left, right = int(columns.argmax()), width - 1 - int(columns[::-1].argmax())
    share = (bottom - top + 1) * (right - left + 1) / (height * width)
    offset = max(
        abs((left + right + 1) / 2 - width / 2) / width,
        abs((top + bottom + 1) / 2 - height / 2) / height,
    )
    return float(share), float(offset)


def _rectangles(codes: Codes, steps: Plane, content: npt.NDArray[np.bool_], area: int) -> list[Box]:
    """Solid one-colour rectangles among the content's common flat colours."""
    counts = np.bincount(codes[(steps == 0) & content], minlength=1 << 15)
    wanted = np.nonzero(counts >= max(BAR_MIN_AREA, 0.001 * area))[0]
    if wanted.size == 0:
        return []
    # Each colour's pieces are labelled within its own bounding box: a photo with a plain
    # background has dozens of such colours, most in a small part of the picture.
    solid = steps <= 2
    rows, columns = np.nonzero(solid & np.isin(codes, wanted))
    present = codes[rows, columns]
    top, left = np.full(1 << 15, codes.shape[0]), np.full(1 << 15, codes.shape[1])
    bottom, right = np.full(1 << 15, -1), np.full(1 << 15, -1)
    np.minimum.at(top, present, rows)
    np.minimum.at(left, present, columns)
    np.maximum.at(bottom, present, rows)
    np.maximum.at(right, present, columns)
    found: list[Box] = []
    for code in wanted:
        window = np.s_[top[code] : bottom[code] + 1, left[code] : right[code] + 1]
        mask = ((codes[window] == code) & solid[window]).astype(np.uint8)
        _count, _labels, boxes, _centres = cv2.connectedComponentsWithStats(mask, connectivity=4)
        for x, y, w, h, pieces in boxes[1:]:
            if pieces >= BAR_MIN_AREA and min(w, h) >= 3 and pieces >= BAR_MIN_FILL * w * h:
                found.append((int(x + left[code]), int(y + top[code]), int(w), int(h)))
    return found


def _bars(codes: Codes, steps: Plane, content: npt.NDArray[np.bool_], area: int) -> int:
    """The largest group of rectangles on one base line, alike in thickness, unlike in length."""
    rectangles = _rectangles(codes, steps, content, area)
    best = 0
    # Upright bars share their bottoms, lying ones their left ends.
    for upright in (True, False):
        length, thickness = (3, 2) if upright else (2, 3)
        groups: dict[int, list[Box]] = {}
        for x, y, w, h in rectangles:
            base = y + h if upright else x
            groups.setdefault(base // BAR_ALIGN, []).append((x, y, w, h))
        for key, group in groups.items():
            members = group + groups.get(key + 1, [])
            if len(members) < 3:
                continue
            thick = np.array([member[thickness] for member in members])
            alike = np.abs(thick - np.median(thick)) <= np.maximum(
                2, BAR_THICKNESS_SPREAD * np.median(thick)
            )
            lengths = {member[length] // 4 for member, ok in zip(members, alike, strict=True) if ok}
            if int(alike.sum()) >= 3 and len(lengths) >= 2:
                best = max(best, int(alike.sum()))
    return best


def _lines(ink: npt.NDArray[np.bool_], kernel: tuple[int, int]) -> list[Box]:
    opened = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones(kernel, np.uint8))
    _count, _labels, boxes, _centres = cv2.connectedComponentsWithStats(opened)
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h, _area in boxes[1:]]


def _axes(ink: npt.NDArray[np.bool_]) -> bool:
    height, width = ink.shape
    across = _lines(ink, (1, max(3, int(width * AXIS_MIN_LENGTH))))
    upright = _lines(ink, (max(3, int(height * AXIS_MIN_LENGTH)), 1))

    def near(first: int, second: int) -> bool:
        return abs(first - second) <= AXIS_JOIN

    for vx, vy, _vw, vh in upright:
        foot = [h for h in across if near(h[1] + h[3], vy + vh) and near(h[0], vx)]
        lid = [h for h in across if near(h[1], vy) and near(h[0], vx)]
        if foot and not lid:
            return True
    return False


def _disc(
    content: npt.NDArray[np.bool_],
    codes: Codes,
    flat: npt.NDArray[np.bool_],
    area: int,
) -> bool:
    count, labels, boxes, _centres = cv2.connectedComponentsWithStats(
        content.astype(np.uint8), connectivity=8
    )
    if count < 2:
        return False
    largest = 1 + int(np.argmax(boxes[1:, cv2.CC_STAT_AREA]))
    _x, _y, w, h, pieces = boxes[largest]
    low, high = DISC_FILL
    if min(w, h) < DISC_MIN_ASPECT * max(w, h) or not low <= pieces / (w * h) <= high:
        return False
    if pieces < DISC_MIN_SHARE * area:
        return False
    disc = labels == largest
    sectors = np.bincount(codes[disc & flat], minlength=1 << 15)
    rows, columns = np.nonzero(disc)
    centre_row, centre_column = rows.mean(), columns.mean()
    radius = max(w, h) / 2
    off_centre = 0
    for code in np.nonzero(sectors >= DISC_SECTOR_SHARE * pieces)[0]:
        sector_rows, sector_columns = np.nonzero(disc & flat & (codes == code))
        shift = np.hypot(sector_rows.mean() - centre_row, sector_columns.mean() - centre_column)
        off_centre += int(shift >= DISC_SECTOR_SHIFT * radius)
    return off_centre >= DISC_MIN_SECTORS
