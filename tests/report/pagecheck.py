"""Read a report page back: ids, stated numbers, images, rows, text and the answer's first
line (stdlib HTML parser).

Also a small PNG checker: the signature, every chunk's CRC, and that the zlib stream of the IDAT
chunks inflates to exactly one filter byte plus ``width × channels × bit depth`` bits per row.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_BLOCKS = {"p", "li", "td", "th", "tr", "dt", "dd", "div", "section", "figure", "h1", "h2",
           "h3", "ul", "ol", "table", "header", "nav", "footer", "br", "a"}  # fmt: skip


@dataclass
class Page:
    """What a report page holds, as parsed."""

    ids: list[str] = field(default_factory=list)
    tags: Counter[str] = field(default_factory=Counter)
    stats: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    images: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    text: str = ""
    headline: str = ""
    attributes: list[tuple[str, str, str]] = field(default_factory=list)

    def stat(self, name: str) -> float:
        """The single value stated under ``data-stat=name``."""
        values = self.stats[name]
        assert len(values) == 1, (name, values)
        return values[0]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.tables: list[str] = []
        self.chunks: list[str] = []
        self.in_style = False
        self.in_headline = False
        self.headline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.page.tags[tag] += 1
        self.in_style = tag == "style"
        if tag in _BLOCKS:
            self.chunks.append(" ")
        for k, v in a.items():
            self.page.attributes.append((tag, k, v))
        if "id" in a:
            self.page.ids.append(a["id"])
        if tag == "p" and "headline" in a.get("class", "").split():
            self.in_headline = True
        if "data-stat" in a:
            self.page.stats[a["data-stat"]].append(float(a["data-value"]))
        if tag == "img":
            self.page.images.append((a.get("src", ""), a.get("alt", "")))
        if tag == "table":
            self.tables.append(a.get("class", ""))
        if tag == "tr" and "data-strategy" in a and self.tables:
            self.page.rows[self.tables[-1]].append(a["data-strategy"])
        if tag == "tr" and "data-feature" in a:
            self.page.rows["features"].append(a["data-feature"])

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False
        if tag == "p":
            self.in_headline = False
        if tag in _BLOCKS:
            self.chunks.append(" ")
        if tag == "table" and self.tables:
            self.tables.pop()

    def handle_data(self, data: str) -> None:
        if not self.in_style:
            self.chunks.append(data)
        if self.in_headline:
            self.headline.append(data)


def parse(html: str) -> Page:
    """Parse a page (the report's own text, or Chromium's dumped DOM)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    parser.page.text = " ".join("".join(parser.chunks).split())
    parser.page.headline = " ".join("".join(parser.headline).split())
    return parser.page


def png_bytes(uri: str) -> bytes:
    """The bytes of a ``data:image/png;base64,`` URI."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:40]
    return base64.b64decode(uri[len(prefix) :], validate=True)


def check_png(data: bytes) -> tuple[int, int]:
    """Validate a PNG byte string completely; return ``(width, height)``."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    pos, idat, header = 8, b"", None
    seen_end = False
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            seen_end = True
        pos += 12 + length
    assert header is not None and seen_end, "missing IHDR or IEND"
    width, height, depth, color, _, _, interlace = header
    assert interlace == 0, "interlaced PNG"
    raw = zlib.decompress(idat)
    row = 1 + (width * _CHANNELS[color] * depth + 7) // 8
    assert len(raw) == row * height, "pixel data does not match the header"
    return width, height
