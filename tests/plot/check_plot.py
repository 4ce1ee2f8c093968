#!/usr/bin/env python3
"""check_plot.py DIR: validate the figures that test_plot wrote into DIR.

Each SVG must parse as XML, be an <svg> of the figure's size, carry the four panel titles and
only finite numbers in its geometry; a pbt/pb2 figure (cases pbt*) is taller and adds the
population and schedule panels: one line per member, one step line per mutable parameter, each
inside its plot area. Each PNG is decoded here with zlib and struct only: chunk
CRCs, IHDR (8-bit RGB, figure size), IDAT inflated and unfiltered, IEND last; the image must
not be blank. Exit status 0 when every check passes."""

import math
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

WIDTH, HEIGHT, HEIGHT_PBT = 1200, 900, 1314
SVG_NS = "{http://www.w3.org/2000/svg}"
PANEL_TITLES = ["Incumbent vs. cumulative budget", "Incumbent vs. time", "Loss vs. budget",
                "Busy workers"]
CASES = ["normal", "equal", "many", "empty", "no_ok", "single_ok", "single_failed", "negative",
         "extreme", "huge_linear", "zero_time", "messy", "no_title",
         "pbt", "pbt_many", "pbt_nospace", "pbt_no_ok", "pbt_empty"]
PBT_TITLES = ["Population: loss vs. budget", "Schedule of the best model"]
# pbt cases: (members, mutable parameters drawn, names in the strips) of test_plot.c's runs
PBT_CASES = {"pbt": (4, 4, ["lr (log scale)", "momentum", "batch", "act (choice index)"]),
             "pbt_many": (3, 6, ["lr (log scale)", "momentum", "batch", "act (choice index)", "extra4",
                                 "extra5"])}
NUMERIC_ATTRS = {"x", "y", "width", "height", "cx", "cy", "r", "font-size", "stroke-width",
                 "fill-opacity", "stroke-opacity"}
NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

failures = []


def fail(name, msg):
    failures.append(f"{name}: {msg}")


# ---- PNG ----

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(raw, width, height, bpp=3):
    """The pixel rows of inflated IDAT data (one filter byte per row)."""
    stride = width * bpp
    rows = []
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        ftype = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ftype == 0:
            pass
        elif ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif ftype == 3:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((a + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                c = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + paeth(a, prev[i], c)) & 255
        else:
            raise ValueError(f"row {y}: filter type {ftype}")
        rows.append(bytes(line))
        prev = line
    return rows


def read_png(data):
    """(width, height, rows) of an 8-bit RGB PNG; raises ValueError on any defect."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("bad signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated chunk")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError(f"chunk {ctype!r} truncated")
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            raise ValueError(f"chunk {ctype!r}: bad CRC")
        chunks.append((ctype, body))
        pos += 12 + length
    types = [c[0] for c in chunks]
    if not types or types[0] != b"IHDR":
        raise ValueError("IHDR is not first")
    if types[-1] != b"IEND" or chunks[-1][1] != b"" or types.count(b"IEND") != 1:
        raise ValueError("IEND is not last, or not empty")
    idat = [i for i, t in enumerate(types) if t == b"IDAT"]
    if not idat or idat != list(range(idat[0], idat[-1] + 1)):
        raise ValueError("IDAT chunks missing or not consecutive")
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, ctype, comp, filt, interlace) != (8, 2, 0, 0, 0):
        raise ValueError(f"not 8-bit RGB, non-interlaced: {depth, ctype, comp, filt, interlace}")
    raw = zlib.decompress(b"".join(chunks[i][1] for i in idat))
    if len(raw) != height * (1 + 3 * width):
        raise ValueError(f"{len(raw)} bytes of image data for {width}x{height}")
    return width, height, unfilter(raw, width, height)


def colour_near(px, rgb, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(px, rgb))


def check_png(name, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        width, height, rows = read_png(data)
    except (ValueError, zlib.error, struct.error) as e:
        fail(name + ".png", str(e))
        return
    if (width, height) != (WIDTH, height_of(name)):
        fail(name + ".png", f"size {width}x{height}")
        return
    inked, colours = 0, set()
    quadrant_blue = [0, 0, 0, 0]
    red_bottom_left = 0
    for y in range(0, height, 2):
        row = rows[y]
        for x in range(0, width, 2):
            px = row[3 * x:3 * x + 3]
            if px != b"\xff\xff\xff":
                inked += 1
            colours.add(px)
            if y > 72:
                q = (x >= width // 2) + 2 * (y >= 72 + (height - 72) // 2)
                if colour_near(px, (0x1f, 0x77, 0xb4)):
                    quadrant_blue[q] += 1
                if q == 2 and colour_near(px, (0xd6, 0x27, 0x28)):
                    red_bottom_left += 1
    frac = inked / ((width // 2) * (height // 2))
    if frac < 0.01:
        fail(name + ".png", f"nearly blank: {frac:.4f} of the pixels inked")
    if len(colours) < 3:
        fail(name + ".png", f"only {len(colours)} colours")
    if name == "normal":  # data drawn in every panel, failures in the scatter
        if min(quadrant_blue) == 0:
            fail(name + ".png", f"a panel without data: blue pixels per panel {quadrant_blue}")
        if red_bottom_left == 0:
            fail(name + ".png", "no red failure markers in the loss panel")


# ---- SVG ----

def height_of(name):
    return HEIGHT_PBT if name.startswith("pbt") else HEIGHT


def clip_groups(root):
    """{clip index: [polyline point lists]} of the clipped groups, and {index: (x, y, w, h)}."""
    rects = {}
    for cp in root.iter(SVG_NS + "clipPath"):
        r = cp.find(SVG_NS + "rect")
        rects[int(cp.get("id")[4:])] = tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
    lines = {}
    for g in root.iter(SVG_NS + "g"):
        idx = int(re.search(r"#plot(\d+)", g.get("clip-path", "#plot-1")).group(1))
        for pl in g.findall(SVG_NS + "polyline"):
            pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
            lines.setdefault(idx, []).append((pl.get("stroke-width"), pts))
    return lines, rects


def check_pbt_svg(name, root, texts):
    for title in PBT_TITLES:
        if not any(t.startswith(title) for t in texts):
            fail(name + ".svg", f"panel title {title!r} missing")
    if name not in PBT_CASES:
        return
    members, nparam, labels = PBT_CASES[name]
    lines, rects = clip_groups(root)
    if sorted(rects) != list(range(5 + nparam)):
        fail(name + ".svg", f"clip paths {sorted(rects)}, want 0..{4 + nparam}")
    got = sum(1 for w, _ in lines.get(4, []) if w == "1.5")
    if got != members:
        fail(name + ".svg", f"{got} member lines in the population panel, want {members}")
    for j in range(nparam):
        if len(lines.get(5 + j, [])) != 1:
            fail(name + ".svg", f"strip {j}: {len(lines.get(5 + j, []))} lines, want 1 schedule line")
    for idx, ls in lines.items():
        x, y, w, h = rects.get(idx, (0, 0, 0, 0))
        for _, pts in ls:
            if idx >= 4 and any(not (x - 0.01 <= px <= x + w + 0.01 and y - 0.01 <= py <= y + h + 0.01)
                                for px, py in pts):
                fail(name + ".svg", f"a line of plot area {idx} leaves it")
                break
    for label in labels:
        if label not in texts:
            fail(name + ".svg", f"schedule strip {label!r} not labelled")
    if name == "pbt_many" and not any(t.startswith(PBT_TITLES[1]) and "6 of 9)" in t for t in texts):
        fail(name + ".svg", "the schedule does not say it shows 6 of 9 parameters")


def finite_numbers(text):
    nums = NUMBER.findall(text)
    return nums and all(math.isfinite(float(v)) for v in nums)


def check_svg(name, path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(name + ".svg", f"not XML: {e}")
        return
    if root.tag != SVG_NS + "svg":
        fail(name + ".svg", f"root element {root.tag}")
        return
    if (root.get("width"), root.get("height")) != (str(WIDTH), str(height_of(name))):
        fail(name + ".svg", f"size {root.get('width')}x{root.get('height')}")
    bad = 0
    for el in root.iter():
        for key, val in el.attrib.items():
            low = val.lower()
            if "nan" in low or "inf" in low:
                bad += 1
            elif key in NUMERIC_ATTRS:
                try:
                    v = float(val)
                except ValueError:
                    bad += 1
                    continue
                if not math.isfinite(v) or abs(v) > 1e5:
                    bad += 1
            elif key in ("points", "d", "transform"):
                if not finite_numbers(val):
                    bad += 1
    if bad:
        fail(name + ".svg", f"{bad} attribute(s) with a non-finite or malformed number")
    texts = ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]
    for title in PANEL_TITLES:
        if not any(t.startswith(title) for t in texts):
            fail(name + ".svg", f"panel title {title!r} missing")
    if any(t.strip() == "" for t in texts):
        fail(name + ".svg", "an empty text element")
    clips = root.findall(f".//{SVG_NS}clipPath")
    if name.startswith("pbt"):
        check_pbt_svg(name, root, texts)
    elif len(clips) != 4:
        fail(name + ".svg", f"{len(clips)} clip paths, want 4")
    if not name.startswith("pbt") and any(t.startswith(title) for title in PBT_TITLES for t in texts):
        fail(name + ".svg", "a pbt panel in the figure of another optimiser")
    lines = root.findall(f".//{SVG_NS}polyline")
    if not lines:
        fail(name + ".svg", "no lines (axes and grid are lines)")
    notes = {"empty": ("no trials", 4), "no_ok": ("no ok trial", 3), "pbt_no_ok": ("no ok trial", 5),
             "pbt_nospace": ("no mutable parameter", 1)}
    if name in notes:
        note, count = notes[name]
        if texts.count(note) != count:
            fail(name + ".svg", f"note {note!r} {texts.count(note)} times, want {count}")
    if name == "normal":
        circles = root.findall(f".//{SVG_NS}circle")
        if len(circles) < 250:
            fail(name + ".svg", f"{len(circles)} circles for 300 trials")
        if "budget (log scale)" not in texts:
            fail(name + ".svg", "budget axis is not labelled as log scale")
        for label in ("1", "3", "9", "27", "81"):
            if label not in texts:
                fail(name + ".svg", f"budget tick {label!r} missing")
    if name == "messy" and not any(t.startswith('<b>&amp; "q" caf\u00e9') for t in texts):
        fail(name + ".svg", "title text not escaped and kept: " + repr(texts[:2]))


def main():
    if len(sys.argv) != 2:
        print("usage: check_plot.py DIR", file=sys.stderr)
        return 2
    folder = sys.argv[1]
    for name in CASES:
        for ext, check in ((".svg", check_svg), (".png", check_png)):
            path = os.path.join(folder, name + ext)
            if not os.path.exists(path):
                fail(name + ext, "missing")
            else:
                check(name, path)
    for f in failures:
        print("check_plot: " + f, file=sys.stderr)
    print(f"check_plot: {2 * len(CASES)} files, {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
