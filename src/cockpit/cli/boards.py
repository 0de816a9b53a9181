"""Stopping the live board of `status` and `gate`: a board whose threads outlive the join
makes the process leave without the interpreter's shutdown (cli/entry.py)."""

from __future__ import annotations

from typing import Any

BOARD_JOIN_SECONDS = 3.0
UNSETTLED: list[Any] = []  # boards whose threads outlived stop() and the join


def stop_board(board: Any) -> None:
    board.stop()
    if not board.join(BOARD_JOIN_SECONDS):
        UNSETTLED.append(board)
