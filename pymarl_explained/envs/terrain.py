"""Terrain of a map: SMAC's pathing grid, cliff levels, heights, and the grids units move on.

All grids are indexed ``[x, y]`` like SMAC's ``pathing_grid`` (cell ``(i, j)`` covers
``x in [i, i+1), y in [j, j+1)``; y grows northwards).

* ``pathing``: the map file's pathing bit (``t3CellFlags`` bit 0 clear). SMAC's move availability
  and its ``obs_pathing_grid`` features read this grid.
* ``walk[mover]``: where a unit may stand, per mover (see :mod:`pymarl_explained.envs.units`):
  ground units use ``pathing`` with diagonal-only links opened (the game lets units squeeze between
  two pathable cells that touch only at a corner, e.g. corridor's choke point; the file's cell flags
  are stricter than the game's finer pathing there); flying units may be anywhere on the map;
  cliff walkers (colossi) may also stand on unpathable cells between two different cliff levels
  above the void (cliff faces and their edges), i.e. they step up and down cliffs.
* Navigation for ground units on maps whose walkable area is not convex: ``clear[c, g]`` says the
  straight segment between the centres of cells ``c`` and ``g`` crosses only walkable cells, and
  ``dist[g, c]`` is the 8-connected step distance from cell ``c`` to cell ``g`` (-1 unreachable). A
  unit whose straight way is blocked heads for the neighbouring cell nearest to its goal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .units import CLIFF_WALKER, FLYING, GROUND


def parse_grids(data: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pathing uint8 [X, Y], cliff raw float [X, Y], height [X, Y] in 0..1)`` from map data."""
    w, h = data["size"]
    pathing = np.array([[c == "." for c in row] for row in data["pathing"]], np.uint8).T.copy()
    cliff = np.array([[int(row[2 * i:2 * i + 2], 16) for i in range(w)] for row in data["cliff"]], float).T.copy()
    height = np.array([[int(row[2 * i:2 * i + 2], 16) for i in range(w)] for row in data["height"]],
                      float).T.copy() / 255.0
    assert pathing.shape == (w, h)
    return pathing, cliff, height


def open_diagonal_links(walk: np.ndarray) -> np.ndarray:
    """Open the two blocked cells of every 2 x 2 block whose walkable cells touch only diagonally."""
    out = walk.copy()
    w, h = walk.shape
    for x in range(w - 1):
        for y in range(h - 1):
            a, b, c, d = walk[x, y], walk[x + 1, y], walk[x, y + 1], walk[x + 1, y + 1]
            if a and d and not b and not c:
                out[x + 1, y] = out[x, y + 1] = 1
            if b and c and not a and not d:
                out[x, y] = out[x + 1, y + 1] = 1
    return out


def cliff_walker_grid(pathing: np.ndarray, cliff: np.ndarray) -> np.ndarray:
    """Pathable cells plus unpathable ones above the void (level >= 1) next to a different level >= 1."""
    out = pathing.copy()
    w, h = pathing.shape
    for x in range(w):
        for y in range(h):
            if out[x, y] or cliff[x, y] < 64:
                continue
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    nx, ny = x + dx, y + dy
                    if 0 <= nx < w and 0 <= ny < h and cliff[nx, ny] >= 64 and cliff[nx, ny] != cliff[x, y]:
                        out[x, y] = 1
    return out


def movement_grids(pathing: np.ndarray, cliff: np.ndarray) -> np.ndarray:
    """``walk [3, X, Y]``: the grid of each mover (ground, flying, cliff walker)."""
    walk = np.zeros((3, *pathing.shape), np.uint8)
    walk[GROUND] = open_diagonal_links(pathing)
    walk[FLYING] = 1
    walk[CLIFF_WALKER] = np.maximum(cliff_walker_grid(pathing, cliff), walk[GROUND])
    return walk


@njit(cache=True)
def _segment_clear(walk: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> bool:
    n = int(max(abs(x1 - x0), abs(y1 - y0)) * 8.0) + 1
    for k in range(n + 1):
        f = k / n
        x = x0 + (x1 - x0) * f
        y = y0 + (y1 - y0) * f
        if not walk[int(x), int(y)]:
            return False
    return True


@njit(cache=True)
def navigation_tables(walk: np.ndarray) -> tuple:
    """``(clear uint8 [C, C], dist int16 [C, C], convex)`` for a ground grid of ``C = X * Y`` cells
    (cell index ``x * Y + y``); ``convex`` is True when every pair of walkable cells is clear."""
    w, h = walk.shape
    c_n = w * h
    clear = np.zeros((c_n, c_n), np.uint8)
    convex = True
    for c in range(c_n):
        cx, cy = c // h, c % h
        if not walk[cx, cy]:
            continue
        clear[c, c] = 1
        for g in range(c + 1, c_n):
            gx, gy = g // h, g % h
            if not walk[gx, gy]:
                continue
            ok = _segment_clear(walk, cx + 0.5, cy + 0.5, gx + 0.5, gy + 0.5)
            clear[c, g] = ok
            clear[g, c] = ok
            if not ok:
                convex = False
    dist = np.full((c_n, c_n), -1, np.int16)
    queue = np.empty(c_n, np.int64)
    for g in range(c_n):
        head, tail = 0, 1
        queue[0] = g
        dist[g, g] = 0
        while head < tail:
            c = queue[head]
            head += 1
            cx, cy = c // h, c % h
            for dx in range(-1, 2):
                for dy in range(-1, 2):
                    if dx == 0 and dy == 0:
                        continue
                    nx, ny = cx + dx, cy + dy
                    if nx < 0 or ny < 0 or nx >= w or ny >= h or not walk[nx, ny]:
                        continue
                    if dx != 0 and dy != 0 and not (walk[cx + dx, cy] and walk[cx, cy + dy]):
                        continue  # no corner cutting
                    nc = nx * h + ny
                    if dist[g, nc] < 0:
                        dist[g, nc] = dist[g, c] + 1
                        queue[tail] = nc
                        tail += 1
    return clear, dist, convex
