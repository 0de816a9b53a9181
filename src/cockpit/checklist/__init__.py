"""The runbook: Markdown in, sections and items out."""

from cockpit.checklist.markdown import load_checklist, parse_checklist
from cockpit.checklist.model import Checklist, ChecklistItem, CommandBlock, Section

__all__ = [
    "Checklist",
    "ChecklistItem",
    "CommandBlock",
    "Section",
    "load_checklist",
    "parse_checklist",
]
