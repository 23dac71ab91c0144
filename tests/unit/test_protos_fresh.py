"""The committed `selfaware.v1` stubs are exactly what `python -m selfaware.protogen` makes from proto/."""

from __future__ import annotations

from pathlib import Path

from selfaware import protogen


def test_generated_stubs_match_the_protos(tmp_path: Path) -> None:
    fresh = {p.name: p.read_bytes() for p in protogen.generate(tmp_path)}
    committed_dir = protogen.REPO_ROOT / "selfaware" / "v1"
    committed = {p.name: p.read_bytes() for p in committed_dir.iterdir() if p.suffix in {".py", ".pyi"}
                 and p.name != "__init__.py"}
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"stale generated stubs {stale}: run `{protogen.COMMAND}` and commit the result"
