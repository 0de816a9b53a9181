"""The report is written in pieces as it is made (flat memory however long the log): the
pieces add up to the page one whole render gives."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

import cockpit.report
from cockpit.report import CSS, build_markdown, html_chunks, markdown_chunks


def _without_clock(text: str) -> str:
    return re.sub(r"Generated [0-9: -]+ UTC", "Generated", text)


@pytest.fixture
def busy_session(open_session):
    session = open_session()
    session.start_release("2.0")
    for n in range(7):
        session.audit.append(
            "verdict",
            session.env_name,
            session.operator,
            state="GO" if n % 2 else "HOLD",
            reasons=["p95 | high"],
            metrics={"p95": {"value": n / 10, "unit": "s", "phase": "pass"}},
        )
    session.mark_done("Change approved")
    return session


@pytest.mark.parametrize("rows", [1, 2, 3, 500])  # table pieces of 1, 2, 3 rows, and one piece
def test_the_html_pieces_make_the_page_one_render_of_the_whole_markdown_makes(
    busy_session, monkeypatch, rows
):
    monkeypatch.setattr(cockpit.report, "CHUNK_ROWS", rows)
    markdown = build_markdown(busy_session)
    assert markdown.count("| HOLD |") == 4 and "\\|" in markdown  # the cells are there, escaped
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    page = "".join(html_chunks(busy_session))
    assert _without_clock(page) == _without_clock(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Go-live report — {busy_session.label}</title>\n<style>{CSS}</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
    tables = sum(1 for line in markdown.splitlines() if line.startswith("|---"))
    assert page.count("<table>") == tables == 2  # gates, timeline: one table each, not one a piece


def test_the_markdown_comes_in_pieces_of_whole_lines(busy_session, monkeypatch):
    monkeypatch.setattr(cockpit.report, "CHUNK_ROWS", 2)
    pieces = list(markdown_chunks(busy_session))
    assert len(pieces) > 10 and all(piece.endswith("\n") for piece in pieces)
    assert "".join(pieces) == build_markdown(busy_session)
