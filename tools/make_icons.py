"""Draw Kehu's app icons (our own artwork: a white "K" on the brand blue) as PNG and SVG.

No imaging library: a few polygons are rasterised with 4×4 supersampling and written with
zlib. Run once after changing the drawing: ``python tools/make_icons.py``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "kehu" / "static" / "kehu" / "icons"
BLUE = (13, 110, 253)
WHITE = (255, 255, 255)
# The "K" in a unit square, inside the maskable safe zone (the central 80%).
SHAPES: list[list[tuple[float, float]]] = [
    [(0.30, 0.25), (0.42, 0.25), (0.42, 0.75), (0.30, 0.75)],  # the stem
    [(0.40, 0.52), (0.63, 0.25), (0.77, 0.25), (0.47, 0.60)],  # the upper arm
    [(0.49, 0.47), (0.78, 0.75), (0.63, 0.75), (0.42, 0.55)],  # the lower leg
]
SAMPLES = 4


def inside(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    hit = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def coverage(px: int, py: int, size: int) -> float:
    hits = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            hits += any(inside(x, y, shape) for shape in SHAPES)
    return hits / SAMPLES**2


def png(size: int) -> bytes:
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # no filter
        for px in range(size):
            alpha = coverage(px, py, size)
            rows += bytes(round(b + (w - b) * alpha) for b, w in zip(BLUE, WHITE, strict=True))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def svg() -> str:
    paths = " ".join(
        "M" + " L".join(f"{x * 512:.0f},{y * 512:.0f}" for x, y in shape) + " Z" for shape in SHAPES
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">'
        '<rect width="512" height="512" fill="#0d6efd"/>'
        f'<path d="{paths}" fill="#fff"/></svg>\n'
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(png(size))
    (OUT / "icon.svg").write_text(svg(), encoding="utf-8")


if __name__ == "__main__":
    main()
