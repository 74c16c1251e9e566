"""The digit pad of lesson 4: a drawing becomes an 8x8 digit, made the way the data set was made.

scikit-learn's digits come from scanned handwriting (NIST): each digit was fitted into a box
of 32x32 dots, black or white, and every 4x4 block of dots became one pixel of the 8x8 image:
the number of its black dots, 0 to 16. The pad does the same with what the reader draws:

1. ``fit``: the strokes are scaled and moved so that the digit fills the box, centred;
2. ``rasterize``: every dot of the box that lies within ``BRUSH`` of a stroke turns black;
3. ``block_counts``: each 4x4 block counts its black dots.

``Recognizer`` then asks the trained network (``lessons.pure_mlp``) and answers the page's
JavaScript in JSON. Pure Python: this runs in the reader's browser.
"""

from __future__ import annotations

import json
import math

from lessons.pure_mlp import PIXEL_MAX, PureMLP

BOX = 32  # dots per side of the box a digit is fitted into
BLOCK = 4  # dots per side of a block: BOX / BLOCK = 8 pixels per side, BLOCK**2 = 16 dots
BRUSH = 2.5  # radius of the pen in dots: strokes about as thick as in the data set
MAX_POINTS = 20_000  # more than any drawing needs; keeps a runaway input from stalling the page

Point = tuple[float, float]
Stroke = list[Point]


class DrawingError(ValueError):
    """The drawing sent by the page is not a list of strokes; the message says what is wrong."""


def parse(strokes_json: str) -> list[Stroke]:
    """Strokes from JSON: a list of strokes, each a list of [x, y] points (0 to 1 on the pad)."""
    try:
        data = json.loads(strokes_json)
        strokes = [[(float(x), float(y)) for x, y in stroke] for stroke in data]
    except (ValueError, TypeError) as error:
        raise DrawingError(f"A drawing is a list of strokes of [x, y] points: {error}") from None
    points = [point for stroke in strokes for point in stroke]
    if not all(math.isfinite(value) for point in points for value in point):
        raise DrawingError("Every point of a drawing needs two finite numbers.")
    if len(points) > MAX_POINTS:
        raise DrawingError(f"A drawing has at most {MAX_POINTS} points, not {len(points)}.")
    return [stroke for stroke in strokes if stroke]


def fit(strokes: list[Stroke]) -> list[Stroke]:
    """The strokes scaled (both directions alike) and moved to fill the box, centred.

    Like the digits of the data set, whose longer side always spans the whole box; the pen's
    width is left free around the edge so no stroke is cut off.
    """
    xs = [x for stroke in strokes for x, _ in stroke]
    ys = [y for stroke in strokes for _, y in stroke]
    extent = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0  # a single dot: any scale
    scale = (BOX - 2 * BRUSH) / extent
    middle_x, middle_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [
        [(BOX / 2 + (x - middle_x) * scale, BOX / 2 + (y - middle_y) * scale) for x, y in stroke]
        for stroke in strokes
    ]


def distance(point: Point, start: Point, end: Point) -> float:
    """How far ``point`` lies from the line segment from ``start`` to ``end``."""
    (px, py), (ax, ay), (bx, by) = point, start, end
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def rasterize(strokes: list[Stroke]) -> list[list[int]]:
    """The box's BOX x BOX dots, row by row: 1 where the pen passed, else 0.

    Each segment only looks at the dots near it, so a long drawing stays quick.
    """
    dots = [[0] * BOX for _ in range(BOX)]
    for stroke in strokes:
        # a stroke of one point (a tap) is a dot: a segment from the point to itself
        segments = list(zip(stroke[:-1], stroke[1:], strict=True)) or [(stroke[0], stroke[0])]
        for start, end in segments:
            left = max(0, math.floor(min(start[0], end[0]) - BRUSH))
            right = min(BOX, math.ceil(max(start[0], end[0]) + BRUSH))
            top = max(0, math.floor(min(start[1], end[1]) - BRUSH))
            bottom = min(BOX, math.ceil(max(start[1], end[1]) + BRUSH))
            for row in range(top, bottom):
                for column in range(left, right):
                    if distance((column + 0.5, row + 0.5), start, end) <= BRUSH:
                        dots[row][column] = 1
    return dots


def block_counts(dots: list[list[int]]) -> list[int]:
    """The 8x8 pixels, row by row: how many dots of each 4x4 block are black (0 to 16)."""
    blocks = range(0, BOX, BLOCK)
    return [
        sum(dots[row + r][column + c] for r in range(BLOCK) for c in range(BLOCK))
        for row in blocks
        for column in blocks
    ]


def pixels(strokes: list[Stroke]) -> list[int]:
    """A drawing as the network reads it: 64 pixels from 0 to 16, like the data set's."""
    return block_counts(rasterize(fit(strokes)))


class Recognizer:
    """The trained network behind the pad: strokes in, the pixels and what the network says out."""

    def __init__(self, model: PureMLP):
        self.model = model

    @classmethod
    def from_json(cls, text: str | bytes, sha256: str | None = None) -> Recognizer:
        """From the network's file (``neural.export``), checked against its SHA-256."""
        return cls(PureMLP.from_json(text, sha256))

    def recognize_json(self, strokes_json: str) -> str:
        """For the page: ``{"empty": true}`` for an empty drawing, else the 64 pixels, the
        probability of each digit, the most likely digit and the hidden layers' activations."""
        strokes = parse(strokes_json)
        if not strokes:
            return json.dumps({"empty": True})
        seen = pixels(strokes)
        output = self.model.forward(seen)
        best = max(range(len(output.probabilities)), key=output.probabilities.__getitem__)
        return json.dumps(
            {
                "empty": False,
                "pixels": seen,
                "pixel_max": PIXEL_MAX,
                "probabilities": output.probabilities,
                "digit": best,
                "hidden": output.hidden,
            }
        )
