"""An append-only JSON-lines journal of finished Make Me Say games, so that a generation interrupted after hours
of model calls resumes where it stopped: each finished game is one line, flushed and fsynced before the next is
played; a rerun reads the finished ones back and plays only the rest. A half-written last line (a crash while
writing) is ignored and cut off, so the next append starts on a clean line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import structlog

from selfaware.make_me_say.game import Game, GameResult

log = structlog.get_logger(__name__)


class Journal:
    """The finished games of one generation, in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def finished(self) -> dict[str, GameResult]:
        """The games the file holds, by id (the last line of an id wins); a torn last line is dropped from the
        file."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            log.warning("mms_journal_torn_line", path=str(self.path), dropped_bytes=len(data) - keep)
            with self.path.open("r+b") as file:
                file.truncate(keep)
        results = (_decode(json.loads(line)) for line in data[:keep].splitlines() if line.strip())
        return {r.game.id: r for r in results}

    def append(self, result: GameResult) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_encode(result), ensure_ascii=False, sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())


def _encode(result: GameResult) -> dict[str, object]:
    game = result.game
    return {"id": game.id, "codeword": game.codeword, "topic": game.topic, "word": game.word,
            "max_messages": game.max_messages, "messages": list(result.messages), "outcome": result.outcome,
            "guess_answer": result.guess_answer}


def _decode(line: dict[str, object]) -> GameResult:
    game = Game(str(line["id"]), str(line["codeword"]), str(line["topic"]), str(line["word"]),
                int(line["max_messages"]))  # type: ignore[call-overload]
    guess = line["guess_answer"]
    return GameResult(game, tuple(line["messages"]), str(line["outcome"]),  # type: ignore[arg-type]
                      None if guess is None else str(guess))
