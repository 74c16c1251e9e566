"""The digit pad: strokes become 8x8 pixels the way the data set's digits were made, and the
trained network recognizes clearly drawn digits."""

import json
import math

import pytest

from lessons import digit_pad, neural
from lessons.digit_pad import BOX, BRUSH, DrawingError, Recognizer


def line(*points, steps=10):
    """Points along straight lines through ``points``, as a pen would report them."""
    out = []
    for (ax, ay), (bx, by) in zip(points[:-1], points[1:], strict=True):
        out += [(ax + (bx - ax) * i / steps, ay + (by - ay) * i / steps) for i in range(steps)]
    return out + [points[-1]]


def ellipse(cx, cy, rx, ry, steps=36):
    return [
        (cx + rx * math.cos(2 * math.pi * i / steps), cy + ry * math.sin(2 * math.pi * i / steps))
        for i in range(steps + 1)
    ]


DRAWN = {
    0: [ellipse(0.5, 0.5, 0.25, 0.38)],
    4: [line((0.6, 0.1), (0.25, 0.6), (0.8, 0.6)), line((0.6, 0.35), (0.6, 0.9))],
    7: [line((0.25, 0.12), (0.75, 0.12), (0.4, 0.9))],
}


def test_parse_reads_strokes_and_rejects_what_is_not_one():
    assert digit_pad.parse("[[[0.1, 0.2], [0.3, 0.4]], [], [[1, 1]]]") == [
        [(0.1, 0.2), (0.3, 0.4)],
        [(1.0, 1.0)],
    ]
    assert digit_pad.parse("[]") == []
    for bad in ["{", '[["ab"]]', "[[[1, 2, 3]]]", "[[[NaN, 1]]]", "7"]:
        with pytest.raises(DrawingError):
            digit_pad.parse(bad)
    too_many = json.dumps([[[0.5, 0.5]] * (digit_pad.MAX_POINTS + 1)])
    with pytest.raises(DrawingError, match="at most"):
        digit_pad.parse(too_many)


def test_fit_fills_the_box_centred():
    (stroke,) = digit_pad.fit([[(0.5, 0.25), (0.5, 0.5)]])  # a short line, high up
    assert stroke == [(BOX / 2, BRUSH), (BOX / 2, BOX - BRUSH)]
    (dot,) = digit_pad.fit([[(0.9, 0.9)]])
    assert dot == [(BOX / 2, BOX / 2)]
    wide = digit_pad.fit([[(0.0, 0.5), (1.0, 0.6)]])[0]
    assert [x for x, _ in wide] == [BRUSH, BOX - BRUSH]  # the longer side decides


def test_distance_to_a_segment():
    assert digit_pad.distance((0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)) == 1.0  # above the middle
    assert digit_pad.distance((4.0, 4.0), (0.0, 0.0), (1.0, 0.0)) == 5.0  # past the end
    assert digit_pad.distance((3.0, 4.0), (0.0, 0.0), (0.0, 0.0)) == 5.0  # a dot


def test_rasterize_a_tap_is_a_round_dot():
    dots = digit_pad.rasterize([[(16.0, 16.0)]])
    inked = {(row, column) for row in range(BOX) for column in range(BOX) if dots[row][column]}
    assert (15, 15) in inked and (16, 16) in inked
    assert all(math.hypot(r + 0.5 - 16, c + 0.5 - 16) <= BRUSH for r, c in inked)
    assert inked == {(31 - r, c) for r, c in inked} == {(c, r) for r, c in inked}  # symmetric


def test_block_counts_count_dots_per_4x4_block():
    assert digit_pad.block_counts([[1] * BOX for _ in range(BOX)]) == [16] * 64
    dots = [[0] * BOX for _ in range(BOX)]
    dots[5][9] = dots[6][10] = 1  # both in block row 1, block column 2
    counts = digit_pad.block_counts(dots)
    assert counts[1 * 8 + 2] == 2 and sum(counts) == 2


def test_a_vertical_line_spans_the_whole_height_like_the_data_set():
    pixels = digit_pad.pixels([line((0.5, 0.3), (0.5, 0.6))])
    rows = [pixels[row * 8 : row * 8 + 8] for row in range(8)]
    assert all(sum(row) > 0 for row in rows)
    assert all(row[:2] == [0, 0] and row[6:] == [0, 0] for row in rows)  # in the middle
    assert max(pixels) <= 16


@pytest.fixture(scope="module")
def recognizer():
    network = neural.train(neural.load_digits()).network
    return Recognizer.from_json(neural.to_json(network))


def test_an_empty_drawing_is_not_guessed(recognizer):
    assert json.loads(recognizer.recognize_json("[]")) == {"empty": True}
    assert json.loads(recognizer.recognize_json("[[]]")) == {"empty": True}


@pytest.mark.parametrize("digit", sorted(DRAWN))
def test_clearly_drawn_digits_are_recognized(recognizer, digit):
    answer = json.loads(recognizer.recognize_json(json.dumps(DRAWN[digit])))
    assert answer["digit"] == digit
    assert max(answer["probabilities"]) == answer["probabilities"][digit] > 0.8
    assert sum(answer["probabilities"]) == pytest.approx(1.0)
    assert len(answer["pixels"]) == 64 and len(answer["hidden"]) == 1
    assert len(answer["hidden"][0]) == 32 and min(answer["hidden"][0]) >= 0.0
