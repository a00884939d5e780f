"""A minimal reader of Vensim's binary run output (.vdf), for checking a run against
Vensim's own numbers (tests/engine/test_world3.py).

Written for this project from the format description in simlin's docs/design/vdf.md
(https://github.com/bpowers/simlin; no code copied): the file header gives the offset table
(one entry per saved series: an inline float32 constant or the file offset of a data block)
and the section-6 class codes; section 2 is the name table; section 1 holds 64-byte
variable records whose word 2 is a name key and word 11 the series' offset-table index.

Scope: scalar (unsubscripted) simulation-run files; lookup-definition records that share
a series with a variable are dropped by name, as the description says.  Checked against
World3-03's experiment.vdf: every one of its 297 series equal, bit for bit, to simlin's own
decoder's output; on the older SCEN01.VDF next to it, lookup definitions that share no
series come out as series too (extra names, the shared ones still equal).  Use it on other
files only after the same check; a file whose structure it cannot parse is refused in one
line."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from innosd.errors import ModelError

RUN_MAGIC = bytes.fromhex("7ff71752")
SECTION_MAGIC = bytes.fromhex("a1374cbf")
SECTION_HEADER = 24
RECORD = 64
RECORDS_START = 204          # 12-byte preamble + three 64-byte header blocks in section 1
FIRST_NAME_KEY = 7           # record word 2 of the first name (`Time`)
SCALAR_SHAPE = 5             # record word 6 of a one-slot variable
# section-6 class codes of saved series: stock-backed, dynamic, constant (inline)
STOCK, DYNAMIC, CONSTANT = 0x08, 0x11, 0x17


def _u32(data: bytes, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def _sections(data: bytes) -> list[int]:
    found, at = [], 0x80
    while len(found) < 8:
        at = data.find(SECTION_MAGIC, at)
        if at < 0:
            raise ModelError(f"only {len(found)} of a run file's 8 sections")
        found.append(at)
        at += 4
    return found


def _names(data: bytes, start: int, end: int) -> dict[int, str]:
    """Name key -> name: the key is the name's word offset in the section + 7; entries that
    are not printable (deleted names) take no key."""
    body = start + SECTION_HEADER
    first = _u32(data, start + 20) >> 16
    names = {FIRST_NAME_KEY: data[body:body + first].rstrip(b"\0").decode("latin-1")}
    at = body + first
    while at + 2 <= end:
        n = struct.unpack_from("<H", data, at)[0]
        at += 2
        text = data[at:at + n].rstrip(b"\0")
        if text and all(32 <= c < 127 or c >= 160 for c in text):
            names[(at - body) // 4 + FIRST_NAME_KEY] = text.decode("latin-1")
        at += n
    return names


def read_vdf(path: Path) -> dict[str, np.ndarray]:
    """Variable name -> its saved values (float32 widened), 'Time' included."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != RUN_MAGIC:
        raise ModelError(f"{path}: not a Vensim simulation-run .vdf (magic {data[:4].hex()})")
    try:
        return _read(data)
    except (ModelError, struct.error, IndexError, ValueError) as err:
        raise ModelError(f"{path}: cannot read this .vdf ({err})") from None


def _read(data: bytes) -> dict[str, np.ndarray]:
    finals, lookups, table = _u32(data, 0x58), _u32(data, 0x5C), _u32(data, 0x60)
    n_series, n_times = (lookups - finals) // 4, _u32(data, 0x78)
    codes = data[finals - n_series:finals]
    entries = [_u32(data, table + 4 * k) for k in range(n_series)]
    first_block = entries[0]            # series 0 is Time, always a data block

    def series(k: int) -> np.ndarray:
        e = entries[k]
        if codes[k] == CONSTANT or not first_block <= e < len(data):
            return np.full(n_times, struct.unpack("<f", struct.pack("<I", e))[0], dtype=float)
        count, width = struct.unpack_from("<H", data, e)[0], (n_times + 7) // 8
        saved = np.unpackbits(np.frombuffer(data, np.uint8, width, e + 2), bitorder="little")[:n_times]
        if saved.sum() != count or not saved[0]:
            raise ModelError(f"series {k}: a data block this reader does not know")
        values = np.frombuffer(data, "<f4", count, e + 2 + width).astype(float)
        return values[np.cumsum(saved) - 1]      # a time with no value holds the last one

    sections = _sections(data)
    names = _names(data, sections[2], sections[3])
    sec1 = sections[1]
    slots = sec1 + 4 * (_u32(data, sec1 + 4) - 1)    # the slot table ends the records
    owners: dict[int, list[str]] = {}
    for at in range(sec1 + SECTION_HEADER + RECORDS_START, slots - RECORD + 1, RECORD):
        word = struct.unpack_from("<16I", data, at)
        k = word[11]
        if word[6] == SCALAR_SHAPE and word[2] in names and 1 <= k < n_series \
                and codes[k] in (STOCK, DYNAMIC, CONSTANT):
            owners.setdefault(k, []).append(names[word[2]])
    result = {"Time": series(0)}
    for k, claimants in owners.items():
        claimants = list(dict.fromkeys(claimants))
        if len(claimants) > 1:   # a lookup definition's record sharing its user's series
            claimants = [n for n in claimants
                         if " table" not in n.lower() and " lookup" not in n.lower()]
        if len(claimants) != 1:
            raise ModelError(f"series {k} claimed by {claimants}")
        result[claimants[0]] = series(k)
    return result
