"""A small Code128 decoder for tests: SVG bar geometry -> module widths -> symbols -> text (ISO/IEC 15417).

Independent of python-barcode (which draws the card's barcode), so a test that decodes the rendered SVG
checks what a scanner would read: bar/space widths, the start code, the code sets, the checksum and the stop.
"""

from __future__ import annotations

import re

# Symbol value -> bar/space widths (bar first), from the Code128 specification's table.
_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 "
    "122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 "
    "322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 "
    "112133 112331 132131 113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 "
    "331121 312113 312311 332111 314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 114311 411113 "
    "411311 113141 114131 311141 411131 211412 211214 211232"
)
PATTERNS = tuple(_TABLE.split())
STOP = "2331112"
START_A, START_B, START_C = 103, 104, 105
CODE_C, CODE_B, CODE_A = 99, 100, 101
SHIFT = 98
_BY_PATTERN = {p: v for v, p in enumerate(PATTERNS)}
_RECT = re.compile(r'<rect x="([\d.]+)mm"[^>]*?width="([\d.]+)mm"')


class DecodeError(ValueError):
    """The bars are not a valid Code128 symbol."""


def modules_from_svg(svg: str) -> list[int]:
    """Alternating bar/space widths in modules (bar first), read from the rectangles' x and width."""
    bars = sorted((float(x), float(w)) for x, w in _RECT.findall(svg))
    if not bars:
        raise DecodeError("no bars")
    module = min(w for _, w in bars)
    widths: list[int] = []
    for (x, w), following in zip(bars, [*bars[1:], None], strict=True):
        widths.append(round(w / module))
        if following is not None:
            widths.append(round((following[0] - x - w) / module))
    return widths


def decode_modules(widths: list[int]) -> str:
    """Decode bar/space widths into text, verifying the checksum and the stop pattern."""
    if len(widths) < 6 * 3 + 7 or "".join(map(str, widths[-7:])) != STOP or (len(widths) - 7) % 6:
        raise DecodeError("no stop pattern")
    values = []
    for i in range(0, len(widths) - 7, 6):
        pattern = "".join(map(str, widths[i : i + 6]))
        if pattern not in _BY_PATTERN:
            raise DecodeError(f"unknown symbol {pattern}")
        values.append(_BY_PATTERN[pattern])
    start, *data, check = values
    if start not in (START_A, START_B, START_C):
        raise DecodeError("no start code")
    if (start + sum(v * (i + 1) for i, v in enumerate(data))) % 103 != check:
        raise DecodeError("checksum mismatch")
    return _text(start, data)


def _text(start: int, data: list[int]) -> str:
    code = {START_A: "A", START_B: "B", START_C: "C"}[start]
    out: list[str] = []
    shift = False
    for value in data:
        current = ("B" if code == "A" else "A") if shift else code
        shift = False
        if current == "C":
            if value < 100:
                out.append(f"{value:02d}")
            elif value == CODE_B:
                code = "B"
            elif value == CODE_A:
                code = "A"
            continue
        if value == SHIFT:
            shift = True
        elif value == CODE_C:
            code = "C"
        elif value in (CODE_A, CODE_B) and value == (CODE_A if current == "B" else CODE_B):
            code = "A" if value == CODE_A else "B"
        elif value < 96:
            out.append(chr(value + 32) if current == "B" or value < 64 else chr(value - 64))
    return "".join(out)


def decode_code128_svg(svg: str) -> str:
    """The text a scanner reads from a Code128 SVG."""
    return decode_modules(modules_from_svg(svg))
