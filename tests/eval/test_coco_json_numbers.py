"""Numbers read by the native COCO JSON scanner equal Python's float() of the same text, bit for bit
(and the strings it skips are delimited exactly).

The scanner converts short decimals itself (Clinger's fast path, a 128-bit product with 10^-q for
17-19 digit mantissas) and hands the rest to std::from_chars; these tests aim at both, and at the
cases where rounding is hardest: decimals exactly halfway between two adjacent doubles and one
unit in the last digit off them.
"""

import json
import math
import struct
from decimal import Decimal, getcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detkit import _C

getcontext().prec = 2000  # exact midpoints of doubles have up to ~770 significant digits

WIDTH = 6  # keypoint values per record


def finite_doubles():
    return st.floats(allow_nan=False, allow_infinity=False)


def float32_values():
    return st.floats(width=32, allow_nan=False, allow_infinity=False).map(float)


def plain(d):
    """A Decimal as a JSON number without exponent ('-0.00123', '42')."""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@st.composite
def decimal_strings(draw):
    """Random decimals: 1-20 integer digits (or 0) and 0-19 fraction digits, optionally negative."""
    int_digits = draw(st.integers(0, 20))
    integer = str(draw(st.integers(10 ** (int_digits - 1), 10 ** int_digits - 1))) if int_digits else "0"
    frac_digits = draw(st.integers(0, 19))
    text = integer
    if frac_digits:
        text += "." + str(draw(st.integers(0, 10 ** frac_digits - 1))).zfill(frac_digits)
    return ("-" if draw(st.booleans()) else "") + text


@st.composite
def near_halfway(draw):
    """The exact decimal halfway between a double and its upper neighbour, or that decimal rounded to
    17-19 significant digits and moved by -1, 0 or +1 in its last digit."""
    x = draw(st.floats(min_value=1e-30, max_value=1e30))
    if draw(st.booleans()):  # midpoints that still have at most 19 significant digits
        x = draw(st.floats(min_value=2.0 ** 50, max_value=2.0 ** 54))
    mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
    if draw(st.booleans()):
        digits = draw(st.integers(17, 19))
        exponent = mid.adjusted() - digits + 1
        step = Decimal(1).scaleb(exponent)
        mid = mid.quantize(step) + draw(st.integers(-1, 1)) * step
    text = plain(mid) if -25 < mid.adjusted() < 25 else str(mid.normalize()).replace("E", "e")
    return ("-" if draw(st.booleans()) else "") + text


def number_texts():
    return st.one_of(
        finite_doubles().map(repr),
        float32_values().map(repr),
        float32_values().map(json.dumps),
        decimal_strings(),
        near_halfway(),
        st.integers(-(2 ** 64), 2 ** 64).map(str),
        st.builds(lambda m, e: f"{m}e{e}", st.integers(-(10 ** 20), 10 ** 20), st.integers(-330, 310)),
    ).filter(in_range)


def in_range(text):
    """False for texts whose value overflows or underflows to zero: the scanner leaves those to the
    general JSON parser (it returns None)."""
    value = float(text)
    return math.isfinite(value) and (value != 0 or not any(c in "123456789" for c in text.split("e")[0]))


def bits(values):
    return np.asarray(values, dtype=np.float64).view(np.int64)


def check_results(texts):
    texts = list(texts) + ["0"] * (-len(texts) % WIDTH)
    records = []
    for r in range(len(texts) // WIDTH):
        row = texts[r * WIDTH:(r + 1) * WIDTH]
        records.append(f'{{"image_id": {r}, "category_id": 1, "bbox": [{", ".join(row[:4])}], '
                       f'"score": {row[4]}, "keypoints": [{", ".join(row)}]}}')
    text = "[" + ", ".join(records) + "]"
    expected = json.loads(text, parse_int=float)  # float() of every number's text ("-0" is -0.0)
    out = _C.coco_parse_results(text.encode())
    assert out is not None
    kp = np.array([rec["keypoints"] for rec in expected], dtype=np.float64)
    box = np.array([rec["bbox"] for rec in expected], dtype=np.float64)
    score = np.array([rec["score"] for rec in expected], dtype=np.float64)
    for got, want in ((out["keypoints"], kp), (out["bbox"], box), (out["score"], score)):
        assert np.array_equal(got, want)
        assert np.array_equal(bits(got), bits(want)), [(t, g, w) for t, g, w in zip(texts, got.ravel(), want.ravel())
                                                       if struct.pack("<d", g) != struct.pack("<d", w)]


@settings(max_examples=300, deadline=None)
@given(st.lists(number_texts(), min_size=1, max_size=60))
def test_result_numbers_equal_python_float(texts):
    check_results(texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(near_halfway(), min_size=1, max_size=60))
def test_numbers_near_halfway_points(texts):
    check_results(texts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(float32_values().map(repr), decimal_strings()), min_size=1, max_size=40))
def test_annotation_numbers_equal_python_float(texts):
    texts = list(texts) + ["0"] * (-len(texts) % WIDTH)
    anns = [f'{{"id": {r + 1}, "image_id": 1, "category_id": 1, "area": {texts[r * WIDTH]}, '
            f'"keypoints": [{", ".join(texts[r * WIDTH:(r + 1) * WIDTH])}]}}' for r in range(len(texts) // WIDTH)]
    text = '{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [' + ", ".join(anns) + "]}"
    expected = json.loads(text, parse_int=float)["annotations"]
    out = _C.coco_parse_instances(text.encode())
    want = np.array([a["keypoints"] for a in expected], dtype=np.float64)
    assert np.array_equal(bits(out["keypoints"]), bits(want))
    assert np.array_equal(bits(out["area"]), bits([a["area"] for a in expected]))


def test_hard_cases():
    """Fixed texts: exact ties (to even), one digit off them, binade edges, 19-20 digit mantissas,
    float32 reprs, the largest fraction lengths and numbers at the very end of the input."""
    texts = [
        "9007199254740993", "9007199254740995", "9007199254740993.0", "4503599627370496.5",
        "4503599627370497.5", "2251799813685248.25", "2251799813685248.75", "1125899906842624.125",
        "9007199254740992.9999", "9007199254740993.0001", "18446744073709551615", "18446744073709551616",
        "0.1", "0.2", "0.3", "-0.0", "0", "-0", "1.0", "2.5", "0.5", "1e23", "8.98846567431158e307",
        "394.45123291015625", "335.3882751464844", "0.563393771648407", "0.09820026904344559",
        "0.9999999999999999999", "1.0000000000000000001", "0.0000000000000000001", "9999999999999999999",
        "1234567890.123456789", "0.1000000000000000055511151231257827", "123456789012345678901234567890",
        "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308", "7.2057594037927933e16",
    ]
    check_results(texts)
    check_results(texts[::-1])


def test_skipped_strings():
    """Strings are scanned eight bytes at a time: quotes, backslashes and control characters must be
    found at every offset, also close to the end of the input, and a raw control character inside a
    string (invalid JSON, as json.loads says) must make the scanner refuse the text (None)."""
    for special in ['"', "\\", "\x01", "\xe9", "\u4e2d", '\\"']:
        for offset in range(20):
            for pad in range(0, 12, 3):  # moves the string's end relative to the input's end
                value = "a" * offset + special + "b" * (19 - offset)
                quoted = json.dumps(value, ensure_ascii=pad % 2 == 0)
                text = '[{"image_id": 1, "category_id": 2, "note": ' + quoted + " " * pad + "}]"
                out = _C.coco_parse_results(text.encode())
                assert out is not None and out["image_id"].tolist() == [1], text
                at = text.index(quoted) + 1 + offset
                broken = text[:at] + "\n" + text[at:]
                with pytest.raises(ValueError):
                    json.loads(broken)
                assert _C.coco_parse_results(broken.encode()) is None, broken
