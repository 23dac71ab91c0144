"""`write_report` writes every file a report hands out, and nothing outside the report's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.cli.results import write_report
from selfaware.v1 import aggregator_pb2 as pb


def _response(*names: str) -> pb.GetReportResponse:
    return pb.GetReportResponse(markdown="# r\n![a](report.png)\n", json="{}", png=b"\x89PNG-overview",
                                figures=[pb.FigureData(name=n, data=n.encode()) for n in names])


def test_every_figure_is_written_beside_the_markdown(tmp_path: Path) -> None:
    folder = write_report(_response("report.png", "report.svg", "words.png", "words.svg"), tmp_path / "exp")
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "report.md", "report.png", "report.svg",
                                                        "words.png", "words.svg"]
    assert (folder / "words.svg").read_bytes() == b"words.svg"


@pytest.mark.parametrize("name", ["../evil.png", "/tmp/evil.png", "sub/x.png", "report.md", "", ".."])
def test_a_figure_name_that_is_not_a_plain_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a plain file name"):
        write_report(_response(name), tmp_path / "exp")
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "exp").exists()
