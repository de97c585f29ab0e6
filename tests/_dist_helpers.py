"""Throwaway installed distributions on ``sys.path``, to test entry-point discovery without pip."""

from __future__ import annotations

import textwrap

GROUP = "tangpoet.test_things"


def make_dist(root, name, entry_points, modules=None, version="1.0", group=GROUP):
    """A minimal installed distribution: ``<name>-<version>.dist-info`` with entry points, plus modules."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"[{group}]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
