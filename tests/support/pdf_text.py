"""The text of a PDF that reportlab wrote (ASCII85 + Flate page streams; STSong-Light strings are UTF-16-BE),
for tests that check what a printed slip says. Enough for our own slips, not a general PDF reader."""

from __future__ import annotations

import base64, re, zlib
TOKEN = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\)", re.S)


def pdf_text(pdf: bytes) -> str:
    fonts = dict(re.findall(rb"/BaseFont /([\w-]+) [^>]*?/Name /(F\d+)", pdf))
    cid = {name for base, name in fonts.items() if base == b"STSong-Light"} or {b"F2"}
    out, font = [], b""
    for stream in re.findall(rb"/Filter \[ /ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        raw = zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>"), adobe=False))
        for match in TOKEN.finditer(raw):
            if match.group(1):
                font = match.group(1)
                continue
            data = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit()
                          else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1)), match.group(2))
            out.append(data.decode("utf-16-be", "replace") if font in cid else data.decode("latin1"))
    return "".join(out)
