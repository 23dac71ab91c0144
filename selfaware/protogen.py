"""Regenerate the `selfaware.v1` stubs from `proto/selfaware/v1/*.proto`.

Run `python -m selfaware.protogen` after editing a .proto file. The proto package and the Python package are
the same (`selfaware.v1`), so the generated imports work unedited. `tests/unit/test_protos_fresh.py` regenerates
into a temporary directory and fails when the committed stubs differ.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
COMMAND = "python -m selfaware.protogen"


def proto_files() -> list[Path]:
    """The .proto files of the one proto package, in a stable order."""
    return sorted((PROTO_ROOT / "selfaware" / "v1").glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run grpcio-tools' protoc into `out_dir` and return the files it wrote."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p) for p in proto_files()],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    package = out_dir / "selfaware" / "v1"
    return sorted(p for p in package.iterdir() if p.suffix in {".py", ".pyi"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT, help="root to write selfaware/v1/ under")
    args = parser.parse_args(argv)
    written = generate(args.out)
    print(f"wrote {len(written)} files under {args.out / 'selfaware' / 'v1'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
