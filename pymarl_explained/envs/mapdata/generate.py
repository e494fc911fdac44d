"""Generate the package's SMAC map data from SMAC's own ``.SC2Map`` files.

Run from the repository root (needs the ``mpyq`` MPQ reader, a dev extra; the package itself never
needs it nor the map files)::

    .venv/bin/python -m pymarl_explained.envs.mapdata.generate ../shared/smac-maps

It reads, for each of SMAC's 23 maps (``<name>.SC2Map``):

* ``MapInfo``: map width and height, tileset, playable bounds;
* ``t3CellFlags``: the pathing grid (bit 0 set = not pathable);
* ``t3SyncCliffLevel``: the cliff level of every cell (raw value / 64; ramps lie in between);
* ``t3HeightMap`` + ``t3Terrain.xml``: vertex heights, turned into a per-cell terrain-height byte;
* ``Objects``: the named points (spawn points, attack targets);
* ``MapScript.galaxy``: which units each player creates where (in creation order) and the order
  given to the enemy (attack-move to a point, to a random point between two points, attack the
  agents' unit group, or nothing);
* ``Base.SC2Data/GameData/UnitData.xml``: the fields of the map's ``_RL`` ally unit copies.

and writes everything to ``smac_maps.json`` next to this file (atomically, mode 0644). Grids are
stored as one string per row, **row 0 = y 0 (the south edge)**, column = x.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

SMAC_MAP_NAMES = (
    "3m", "8m", "25m", "5m_vs_6m", "8m_vs_9m", "10m_vs_11m", "27m_vs_30m", "MMM", "MMM2", "2s3z",
    "3s5z", "3s5z_vs_3s6z", "3s_vs_3z", "3s_vs_4z", "3s_vs_5z", "1c3s5z", "2m_vs_1z", "corridor",
    "6h_vs_8z", "2s_vs_1sc", "so_many_baneling", "bane_vs_bane", "2c_vs_64zg",
)
"""The 23 maps of SMAC's registry (``smac_maps.py``), in its order."""

DATA_FILE = Path(__file__).with_name("smac_maps.json")
"""Where the generated data lives inside the package."""

UNIT_FIELDS = ("LifeMax", "ShieldsMax", "LifeArmor", "LifeRegenRate", "ShieldRegenRate",
               "ShieldRegenDelay", "EnergyStart", "EnergyMax", "EnergyRegenRate", "Speed", "Sight",
               "Radius")
"""Numeric fields kept from each ``_RL`` unit definition (absent ones are the stock unit's)."""


# ---------------------------------------------------------------------------------- members
def _read_mapinfo(data: bytes) -> dict:
    """Width, height, tileset and playable bounds from the binary ``MapInfo`` member."""
    if data[:4] != b"IpaM":
        raise ValueError("MapInfo: bad magic")
    pos = 4
    (version,) = struct.unpack_from("<I", data, pos)
    pos += 4
    if version >= 0x18:
        pos += 8
    width, height = struct.unpack_from("<II", data, pos)
    pos += 8

    def cstring() -> str:
        nonlocal pos
        end = data.index(b"\0", pos)
        s = data[pos:end].decode()
        pos = end + 1
        return s

    for _ in range(2):  # small and large preview: kind, then a path only for kind 2
        (kind,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if kind == 2:
            cstring()
    if version >= 0x1F:
        cstring()
    if version >= 0x26:
        cstring()
    if version >= 0x1F:
        pos += 4
    pos += 4
    cstring()  # fog
    tileset = cstring()
    bounds = list(struct.unpack_from("<IIII", data, pos))
    return {"width": width, "height": height, "tileset": tileset, "playable": bounds}


def _grid_u8(data: bytes, magic: bytes, width: int, height: int) -> list[list[int]]:
    if data[:4] != magic:
        raise ValueError(f"{magic!r}: bad magic")
    cells = data[32:32 + width * height]
    return [list(cells[y * width:(y + 1) * width]) for y in range(height)]


def _read_cliff(data: bytes, width: int, height: int) -> list[list[int]]:
    if data[:4] != b"CLIF":
        raise ValueError("t3SyncCliffLevel: bad magic")
    vals = struct.unpack_from(f"<{width * height}H", data, 32)
    return [list(vals[y * width:(y + 1) * width]) for y in range(height)]


def _read_heights(data: bytes, terrain_xml: str, width: int, height: int) -> list[list[int]]:
    """Per-cell terrain-height byte: world height z of the cell's four corner vertices (channel 1
    of ``t3HeightMap``, ``z = value * quantizeScale - quantizeBias + standardHeight``), averaged,
    then ``(z + 16) * 255 / 32`` rounded (the game's height-byte conversion as used by public SC2
    client code; an inference, see the reference notes)."""
    if data[:4] != b"HMAP":
        raise ValueError("t3HeightMap: bad magic")
    vw, vh = struct.unpack_from("<II", data, 8)
    vert = ET.fromstring(terrain_xml).find("heightMap/vertData")
    qs = float(vert.get("quantizeScale"))
    qb = float(vert.get("quantizeBias"))
    std = float(vert.get("standardHeight"))
    recs = struct.unpack_from(f"<{vw * vh * 3}H", data, 32)

    def z(vx: int, vy: int) -> float:
        return recs[(vy * vw + vx) * 3 + 1] * qs - qb + std

    out = []
    for y in range(height):
        row = []
        for x in range(width):
            zc = (z(x, y) + z(x + 1, y) + z(x, y + 1) + z(x + 1, y + 1)) / 4.0
            row.append(max(0, min(255, round((zc + 16.0) * 255.0 / 32.0))))
        out.append(row)
    return out


def _read_points(objects_xml: str) -> dict[str, dict]:
    points = {}
    for el in ET.fromstring(objects_xml).iter("ObjectPoint"):
        x, y, _ = (float(v) for v in el.get("Position").split(","))
        points[el.get("Id")] = {"name": el.get("Name"), "xy": [x, y]}
    return points


_CREATE = re.compile(r'CreateUnitsWithDefaultFacing\((\d+),\s*"(\w+)",\s*\d+,\s*(\d+),\s*PointFromId\((\d+)\)\)')
_ORDER = re.compile(r"UnitGroupIssueOrder\(UnitGroup\(null,\s*2,.*?(OrderTargeting\w+)\(AbilityCommand\(\"(\w+)\", 0\),"
                    r"\s*(.*?)\),\s*c_orderQueue")
_POINT_ID = re.compile(r"PointFromId\((\d+)\)")


def _read_script(script: str, points: dict[str, dict]) -> tuple[list[dict], dict]:
    """Unit creations (in order) and the order given to player 2."""
    units = []
    for count, utype, player, pid in _CREATE.findall(script):
        p = points[pid]
        units.append({"player": int(player), "type": utype, "count": int(count),
                      "point": p["name"], "xy": p["xy"]})
    orders = _ORDER.findall(script)
    if not orders:
        return units, {"kind": "none"}
    if len(set(orders)) != 1:
        raise ValueError(f"several different enemy orders: {orders}")
    kind, ability, target = orders[0]
    if ability != "attack":
        raise ValueError(f"unexpected enemy ability {ability!r}")
    ids = _POINT_ID.findall(target)
    if kind == "OrderTargetingUnitGroup":
        return units, {"kind": "attack_units", "group": target.strip()}
    if "RandomPointBetweenPoints" in target and len(ids) == 2:
        return units, {"kind": "random_between", "points": [points[i]["xy"] for i in ids],
                       "names": [points[i]["name"] for i in ids]}
    if len(ids) == 1:
        return units, {"kind": "point", "xy": points[ids[0]]["xy"], "name": points[ids[0]]["name"]}
    raise ValueError(f"cannot read the enemy order target {target!r}")


def _read_unit_data(xml_text: str) -> dict[str, dict]:
    """Fields of every ``_RL`` unit: the numbers of :data:`UNIT_FIELDS`, attributes, planes,
    collision flags, mover and weapons."""
    out = {}
    for cu in ET.fromstring(xml_text).iter("CUnit"):
        uid = cu.get("id")
        if not uid.endswith("_RL"):
            continue
        rec: dict[str, Any] = {"attributes": [], "planes": [], "collide": [], "weapons": []}
        for el in cu:
            if el.tag in UNIT_FIELDS:
                rec[el.tag] = float(el.get("value"))
            elif el.tag == "Attributes" and el.get("value") == "1":
                rec["attributes"].append(el.get("index"))
            elif el.tag == "PlaneArray" and el.get("value") == "1":
                rec["planes"].append(el.get("index"))
            elif el.tag == "Collide" and el.get("value") == "1":
                rec["collide"].append(el.get("index"))
            elif el.tag == "WeaponArray":
                rec["weapons"].append(el.get("Link"))
            elif el.tag == "Mover":
                rec["mover"] = el.get("value")
        out[uid] = rec
    return out


def read_map(path: str | os.PathLike) -> dict:
    """Everything the simulator needs from one ``.SC2Map`` file, as a JSON-ready dictionary."""
    import mpyq  # dev-only dependency

    raw = Path(path).read_bytes()
    arc = mpyq.MPQArchive(str(path))

    def member(name: str) -> bytes:
        data = arc.read_file(name)
        if data is None:
            raise ValueError(f"{path}: member {name} missing")
        return data

    info = _read_mapinfo(member("MapInfo"))
    w, h = info["width"], info["height"]
    flags = _grid_u8(member("t3CellFlags"), b"LFCT", w, h)
    cliff = _read_cliff(member("t3SyncCliffLevel"), w, h)
    heights = _read_heights(member("t3HeightMap"), member("t3Terrain.xml").decode(), w, h)
    points = _read_points(member("Objects").decode())
    units, order = _read_script(member("MapScript.galaxy").decode(), points)
    return {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "tileset": info["tileset"],
        "size": [w, h],
        "playable": info["playable"],
        "pathing": ["".join("#" if v & 1 else "." for v in row) for row in flags],
        "cliff": ["".join(f"{v:02x}" for v in row) for row in cliff],
        "height": ["".join(f"{v:02x}" for v in row) for row in heights],
        "points": {p["name"]: p["xy"] for p in points.values()},
        "units": units,
        "enemy_order": order,
        "ally_unit_data": _read_unit_data(member("Base.SC2Data\\GameData\\UnitData.xml").decode()),
    }


def generate(maps_dir: str | os.PathLike) -> dict:
    """Read all 23 maps from ``maps_dir``; return ``{"format": 1, "maps": {name: data}}``."""
    missing = [m for m in SMAC_MAP_NAMES if not (Path(maps_dir) / f"{m}.SC2Map").is_file()]
    if missing:
        raise FileNotFoundError(f"{maps_dir}: missing map files {missing}")
    return {"format": 1, "source": "SMAC's SMAC_Maps/*.SC2Map (oxwhirl/smac, MIT licence)",
            "maps": {m: read_map(Path(maps_dir) / f"{m}.SC2Map") for m in SMAC_MAP_NAMES}}


def dumps(data: dict) -> str:
    """The JSON text written to :data:`DATA_FILE` (stable: one grid row per line)."""
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def write_atomic(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``; mode 0644."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate smac_maps.json from SMAC's .SC2Map files.")
    parser.add_argument("maps_dir", help="folder holding the 23 SMAC .SC2Map files")
    parser.add_argument("--out", default=str(DATA_FILE), help=f"output file (default {DATA_FILE})")
    args = parser.parse_args(argv)
    try:
        import mpyq  # noqa: F401
    except ImportError:
        print("The generator needs the mpyq package: pip install mpyq (or pip install -e .[dev]).",
              file=sys.stderr)
        return 2
    try:
        data = generate(args.maps_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_atomic(dumps(data), Path(args.out))
    print(f"wrote {len(data['maps'])} maps to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
