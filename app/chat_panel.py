"""The side panel's Chat page: what to ask about, the transcript, and the question box.

Draws a `ChatController` (app/chat_controller.py) and sends it what the user does: Enter asks,
Shift+Enter starts a new line, Esc cancels the answer streaming; links in the transcript seek, make a
moment of a span, look closer at it, or show all of an answer's frames (app/chat_html.py). The
transcript is re-rendered at most every `RENDER_MS` while an answer streams, keeping the reader's place
unless they were at the bottom, where it follows the answer.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.chat_controller import ChatController
from app.chat_frames import HEIGHT, ChatFrames
from app.chat_html import Layout, empty_html, transcript_html
from app.theme import DIM

RENDER_MS = 40
PENDING_FRAME = "#34373d"  # a thumbnail still being decoded (the question boxes' grey)
SCOPES = (("video", "Whole video"), ("span", "Selected span"), ("view", "Visible part of the timeline"))
NO_VIDEO = "Open a video first (Ctrl+O): the questions are about the open video."
NO_SPAN = "Select a span on the timeline or in Moments first, or ask about the whole video."


class QuestionBox(QPlainTextEdit):
    """Enter submits, Shift+Enter is a new line, Esc asks to cancel."""

    submitted = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Ask about the video… (Enter asks; Shift+Enter: new line)")
        self.setTabChangesFocus(True)
        self.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 14)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.cancel_requested.emit()
        else:
            super().keyPressEvent(event)


class Transcript(QTextBrowser):
    """The chat as rich text; `frame:INDEX` images come from the answer thumbnails."""

    def __init__(self, frames: ChatFrames, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames = frames
        self.setOpenLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        # A thumbnail not decoded yet: a plain box of its size (for None Qt draws a "broken image" icon).
        self.pending = QImage(1, 1, QImage.Format.Format_RGB32)
        self.pending.fill(QColor(PENDING_FRAME))

    def loadResource(self, kind: int, url: QUrl):
        if kind == QTextDocument.ResourceType.ImageResource.value and url.scheme() == "frame":
            return self.frames.images.get(int(url.path()), self.pending)
        return super().loadResource(kind, url)


class ChatPanel(QWidget):
    def __init__(self, chat: ChatController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chat = chat
        self.frames = ChatFrames(self)
        self.expanded: set[int] = set()
        self.model_loaded: bool | None = None  # from the worker's status: None until it says
        self._shown_video = None

        self.scope = QComboBox()
        for key, label in SCOPES:
            self.scope.addItem(label, key)
        self.new_button = QPushButton("New conversation")
        self.new_button.setToolTip("Start over (Ctrl+Shift+N): the video is not encoded again")
        self.transcript = Transcript(self.frames)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.setup_button = QPushButton("Set up the model…")
        self.question = QuestionBox()
        self.ask_button = QPushButton("Ask")
        self.ask_button.setDefault(True)
        self._build()

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self.render)
        chat.changed.connect(self._changed)
        chat.busy_changed.connect(self._busy_changed)
        self.frames.arrived.connect(lambda _index: self._render_soon())
        self.question.submitted.connect(self.ask)
        self.question.cancel_requested.connect(chat.cancel)
        self.ask_button.clicked.connect(lambda: chat.cancel() if chat.busy else self.ask())
        self.new_button.clicked.connect(chat.new_conversation)
        self.setup_button.clicked.connect(chat.request_model_setup)
        self.transcript.anchorClicked.connect(self._link)
        self._busy_changed(False)
        self.render()

    def pictures_pending(self) -> bool:
        """Answer thumbnails are still being made, or the transcript has yet to show the ones made."""
        return not self.frames.idle() or self._render_timer.isActive()

    def _build(self) -> None:
        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 0)
        about = QLabel("Ask about")
        about.setStyleSheet(f"color: {DIM.name()};")
        top.addWidget(about)
        top.addWidget(self.scope, 1)
        top.addWidget(self.new_button)
        status = QHBoxLayout()
        status.setContentsMargins(8, 0, 8, 0)
        status.addWidget(self.note, 1)
        status.addWidget(self.setup_button)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(8, 0, 8, 8)
        bottom.addWidget(self.question, 1)
        bottom.addWidget(self.ask_button, 0, Qt.AlignmentFlag.AlignBottom)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addLayout(top)
        column.addWidget(self.transcript, 1)
        column.addLayout(status)
        column.addLayout(bottom)
        self._show_note("")

    # ----- actions ------------------------------------------------------------------------------------------
    def ask(self) -> None:
        kind = self.scope.currentData()
        if self.chat.busy:
            self._show_note("An answer is coming: Esc (or Stop) cancels it.")
            return
        if self.chat.video is None or self.chat.scope(kind) is None:  # no span: only that scope has none
            self._show_note(NO_VIDEO if self.chat.video is None else NO_SPAN, warn=True)
            return
        if self.chat.ask(self.question.toPlainText(), kind):
            self.question.clear()
            self._show_note("")

    def focus_question(self) -> None:
        self.question.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_model_status(self, status: dict) -> None:
        """A worker `status` reply: whether InternVideo is loaded (the empty page says so)."""
        loaded = (status.get("models") or {}).get("internvideo") is not None
        if loaded != self.model_loaded:
            self.model_loaded = loaded
            if not self.chat.turns:
                self._render_soon()

    def close_frames(self) -> None:
        self.frames.shutdown()

    # ----- drawing ------------------------------------------------------------------------------------------
    def render(self) -> None:
        chat = self.chat
        if not chat.turns:
            self.transcript.setHtml(empty_html(chat.info is not None, self.model_loaded))
            return
        bar = self.transcript.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 4
        place = bar.value()
        self.frames.want(index for turn in chat.turns for index, _ in turn.frames)
        self.transcript.setHtml(transcript_html(chat.turns, self._layout(), chat.progress))
        bar.setValue(place)
        if following:  # once the new text is laid out: the maximum is not known before
            QTimer.singleShot(0, bar, lambda: bar.setValue(bar.maximum()))

    def _render_soon(self) -> None:
        """Render within `RENDER_MS`: a running timer is left to fire (restarting it on every piece
        would hold the transcript still for as long as pieces come faster than that)."""
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _layout(self) -> Layout:
        info = self.chat.info
        aspect = info.width / info.height if info is not None and info.height else 16 / 9
        height = HEIGHT
        width = max(1, round(height * aspect))
        usable = self.transcript.viewport().width() - 40  # the answer box's padding and the margins
        return Layout(
            duration_s=info.duration_s if info is not None else 0.0,
            thumb_width=width,
            thumb_height=height,
            columns=max(1, usable // (width + 3)),
            expanded=frozenset(self.expanded),
        )

    def _changed(self, index: int) -> None:
        if index == -1 and self.chat.info is not self._shown_video:
            self._shown_video = self.chat.info
            self.frames.open(self.chat.info)
            self.expanded.clear()
            self._busy_changed(self.chat.busy)  # Ask can be used now
        last = self.chat.turns[-1] if self.chat.turns else None
        if last is not None and last.state == "failed" and last.error is not None:
            missing = last.error.get("code") == "model_error"  # the transcript shows the message itself
            self._show_note("The model InternVideo2.5 cannot be used yet." if missing else "")
            self.setup_button.setVisible(missing)
        elif index != -1 or last is None:
            self._show_note("")
        if index == -1 or not self.chat.busy:
            self.render()  # at once: a new video, a finished answer
        else:
            self._render_soon()

    def _busy_changed(self, busy: bool) -> None:
        video = self.chat.video is not None
        self.ask_button.setText("Stop" if busy else "Ask")
        self.ask_button.setEnabled(busy or video)
        tip = "Cancel the answer (Esc)" if busy else "Ask (Enter)" if video else NO_VIDEO
        self.ask_button.setToolTip(tip)
        self.scope.setEnabled(not busy)
        self.new_button.setEnabled(not busy)

    def _show_note(self, text: str, warn: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(f"color: {'#d8b13a' if warn else DIM.name()};")
        self.note.setVisible(bool(text))
        if not text:
            self.setup_button.setVisible(False)

    def _link(self, url: QUrl) -> None:
        kind, _, rest = url.toString().partition(":")
        fields = rest.split(":")
        if kind == "seek":
            self.chat.seek_requested.emit(float(fields[0]))
        elif kind == "moment":
            self.chat.propose_moment(float(fields[0]), float(fields[1]), int(fields[2]))
        elif kind == "closer":
            self.chat.look_closer(float(fields[0]), float(fields[1]), int(fields[2]))
        elif kind == "frames":
            self.expanded ^= {int(fields[0])}
            self.render()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render_soon()  # the strip's columns follow the width
