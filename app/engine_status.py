"""The status bar's right side: the engine's state, device and memory, and the running job with a Cancel.

Fed by the worker client: its state, its `status` replies (every few seconds) and its calls. The job
shown is the oldest one running; its progress reads "encode 64/128" or the stage's own message.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.progress_bar import ProgressBar
from engine.jobs import Progress

STATE_TEXT = {
    "stopped": ("#8a8a8a", "Engine stopped"),
    "starting": ("#d8b13a", "Engine starting…"),
    "ready": ("#4caf50", "Engine ready"),
    "crashed": ("#e05050", "Engine stopped unexpectedly"),
}
JOB_NAMES = {
    "open_video": "Opening video",
    "ask": "Answering",
    "ground": "Finding moments",
    "refine_span": "Refining a moment",
    "track_prompt": "Segmenting",
    "track_propagate": "Tracking",
    "track_refine": "Re-tracking",
    "export_spans": "Exporting clips",
    "export_tracks": "Exporting masks",
    "models_download": "Downloading model",
    "models_verify": "Verifying model",
}


class EngineStatus(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(8)
        self.job = QLabel()
        self.bar = ProgressBar()
        self.bar.setFixedWidth(140)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.cancel = QPushButton("Cancel")
        self.cancel.setFlat(True)
        self.cancel.setCursor(Qt.CursorShape.PointingHandCursor)
        self.cancel.clicked.connect(self.cancel_requested)
        self.device = QLabel()
        self.state = QLabel()
        for widget in (self.job, self.bar, self.cancel, self.device, self.state):
            layout.addWidget(widget)
        self.show_job(None, None)
        self.show_state("stopped")

    def show_state(self, state: str) -> None:
        colour, text = STATE_TEXT.get(state, ("#8a8a8a", state))
        self.state.setText(f'<span style="color:{colour}">●</span> {text}')

    def show_status(self, status: dict) -> None:
        """A worker `status` reply: device and memory."""
        device = status.get("device") or {}
        rss = status.get("rss_bytes")
        parts = []
        if device.get("kind") == "cuda":
            used = device.get("allocated_bytes", 0) / 2**30
            total = device.get("total_bytes", 0) / 2**30
            parts.append(f"{device.get('name', 'GPU')} · {used:.1f} / {total:.0f} GB")
        elif device.get("kind") == "cpu":
            parts.append("CPU")
        plan = status.get("plan")  # the memory planner's choice, once a job of the worker made it
        if plan:
            parts.append(f"{plan['precision']} · {plan['frames']} frames")
        if rss:
            parts.append(f"RAM {rss / 2**30:.1f} GB")
        self.device.setText("  ·  ".join(parts))
        self.device.setToolTip(plan["explanation"] if plan else "")

    def show_job(self, kind: str | None, progress: Progress | None) -> None:
        running = kind is not None
        for widget in (self.job, self.bar, self.cancel):
            widget.setVisible(running)
        if not running:
            return
        name = JOB_NAMES.get(kind, kind)
        detail = ""
        if progress is not None:
            detail = progress.message or (
                f"{progress.stage} {progress.done:g}/{progress.total:g}" if progress.total else progress.stage
            )
        self.job.setText(f"{name}{' — ' + detail if detail else ''}")
        fraction = None if progress is None else progress.fraction
        if fraction is None:
            self.bar.setRange(0, 0)  # busy, amount unknown
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(fraction * 1000))
