"""The side panel: Chat, Moments and Objects tabs, each with a page saying what it will hold.

The issues after the player fill these pages (asking and moments; tracking); until then each tab says
what it is for and how to get there, so the window never shows an empty grey box.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

PAGES = (
    ("Chat", "Ask questions about the video in plain language.\nThe answers say which frames they saw."),
    ("Moments", "Find the moments that match a description.\nThey appear here and as spans on the timeline."),
    ("Objects", "Click an object in the video to track it.\nIts mask follows it through the video."),
)


class SidePanel(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.setMinimumWidth(260)
        self.pages: dict[str, QWidget] = {}
        for name, text in PAGES:
            page = QWidget()
            layout = QVBoxLayout(page)
            layout.setContentsMargins(18, 24, 18, 18)
            hint = QLabel(text)
            hint.setWordWrap(True)
            hint.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            hint.setStyleSheet("color: palette(mid);")
            layout.addWidget(hint)
            layout.addStretch(1)
            self.addTab(page, name)
            self.pages[name] = page

    def set_page(self, name: str, page: QWidget) -> None:
        """Put a feature's page in place of the tab's placeholder, keeping the tab's place and name."""
        index = self.indexOf(self.pages[name])
        self.removeTab(index)
        self.pages[name].deleteLater()
        self.insertTab(index, page, name)
        self.pages[name] = page
