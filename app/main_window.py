"""The main window: the picture with its transport strip, the side panel, the timeline across the bottom,
the engine's state in the status bar, and a banner when the engine fails.

It wires views to the controllers and the engine worker; it holds no engine state of its own. Opening
a video asks the worker to probe it (a damaged file can take the worker down, never the window), then
plays it with the engine's frame table as the identity of every frame shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import keymap
from app.banner import Banner
from app.engine_status import EngineStatus
from app.frame_reader import FrameReader
from app.player import Player
from app.side_panel import SidePanel
from app.timeline import Timeline
from app.transport import Transport
from app.video_view import VideoView
from app.worker_client import WORKER_EXITED, Call, WorkerClient
from engine.timecode import parse_timecode
from engine.video import VideoInfo

# The app runs from its checkout (installers/install.sh installs it editable), so assets/ is beside app/.
ICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "scenescope.svg"
VIDEO_FILTER = "Videos (*.mp4 *.mov *.m4v *.mkv *.webm *.avi *.ts *.mts *.m2ts);;All files (*)"
LIGHTER_PRECISION = "nf4"


class MainWindow(QMainWindow):
    video_opened = Signal(object)  # VideoInfo
    video_failed = Signal(str)

    def __init__(self, worker_args: list[str] | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Scenescope")
        self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.info: VideoInfo | None = None
        self.video_path: Path | None = None

        self.worker = WorkerClient(worker_args, self)
        self.player = Player(self)
        self.view = VideoView()
        self.transport = Transport()
        self.timeline = Timeline()
        self.side = SidePanel()
        self.banner = Banner()
        self.engine_status = EngineStatus()
        self._build_layout()
        self._connect()
        self.actions = keymap.build_actions(self, self._handlers(), self._key_overrides())
        self._build_menus()
        self.statusBar().addPermanentWidget(self.engine_status)
        self.statusBar().showMessage("Open a video to begin")
        self.worker.start()

    # ----- building -----------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        picture = QWidget()
        column = QVBoxLayout(picture)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.transport)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(picture)
        top.addWidget(self.side)
        top.setStretchFactor(0, 1)
        top.setSizes([1100, 340])
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(self.timeline)
        main.setStretchFactor(0, 1)
        main.setCollapsible(1, False)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.banner)
        outer.addWidget(main, 1)
        self.setCentralWidget(central)
        self.splitters = (top, main)

    def _connect(self) -> None:
        self.player.frame_shown.connect(self.view.show_frame)
        self.player.position_changed.connect(self._position_changed)
        self.player.state_changed.connect(self.transport.set_state)
        self.player.rate_changed.connect(self.transport.set_rate)
        self.player.muted_changed.connect(self.transport.set_muted)
        self.player.error.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.transport.play_clicked.connect(self.player.toggle)
        self.transport.mute_clicked.connect(self.player.toggle_mute)
        self.timeline.seek_requested.connect(lambda t, _dragging: self.player.seek(t))
        self.worker.state_changed.connect(self.engine_status.show_state)
        self.worker.status_changed.connect(self.engine_status.show_status)
        self.worker.calls_changed.connect(self._show_running_job)
        self.worker.job_progress.connect(self._show_running_job)
        self.worker.crashed.connect(self._engine_crashed)
        self.engine_status.cancel_requested.connect(self._cancel_running_job)
        self.banner.restart_requested.connect(self._restart_engine)

    def _handlers(self) -> dict:
        p = self.player
        return {
            "open": self._choose_video,
            "save_session_as": lambda: self.statusBar().showMessage(
                "Sessions are saved automatically.", 4000
            ),
            "relink": self._choose_video,
            "settings": lambda: self.statusBar().showMessage("Settings: see File ▸ Settings (coming).", 4000),
            "quit": self.close,
            "play_pause": p.toggle,
            "shuttle_forward": lambda: p.shuttle(1),
            "shuttle_reverse": lambda: p.shuttle(-1),
            "next_frame": lambda: p.step(1),
            "previous_frame": lambda: p.step(-1),
            "forward_second": lambda: p.jump(1.0),
            "back_second": lambda: p.jump(-1.0),
            "forward_minute": lambda: p.jump(60.0),
            "back_minute": lambda: p.jump(-60.0),
            "go_start": lambda: p.seek(0.0),
            "go_end": lambda: p.show_index(p.frame_count - 1),
            "go_to_time": self._go_to_time,
            "slower": lambda: p.set_rate(p.rate / 1.1),
            "faster": lambda: p.set_rate(p.rate * 1.1),
            "half_speed": lambda: p.set_rate(p.rate / 2),
            "double_speed": lambda: p.set_rate(p.rate * 2),
            "normal_speed": lambda: p.set_rate(1.0),
            "mute": p.toggle_mute,
            "full_screen": self._toggle_full_screen,
            "zoom_in": self.timeline.zoom_in,
            "zoom_out": self.timeline.zoom_out,
            "zoom_fit": self.timeline.zoom_fit,
            "shortcuts": self._show_shortcuts,
            "about": self._about,
        }

    def _key_overrides(self) -> dict[str, list[str]]:
        overrides = {}
        for binding in keymap.KEYMAP:
            value = self.settings.value(f"keys/{binding.name}")
            if value is not None:
                overrides[binding.name] = [value] if isinstance(value, str) else list(value)
        return overrides

    def _build_menus(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in keymap.MENUS}
        for binding in keymap.KEYMAP:
            if binding.name in ("quit", "settings", "relink"):
                menus[binding.menu].addSeparator()
            menus[binding.menu].addAction(self.actions[binding.name])
        self.addActions(list(self.actions.values()))  # shortcuts work in full screen, with menus hidden

    # ----- opening ------------------------------------------------------------------------------------------
    def open_video(self, path: str | Path) -> Call:
        """Ask the worker to probe `path`; the video appears when it answers."""
        path = Path(path)
        self.statusBar().showMessage(f"Opening {path.name}…")
        self.view.set_message(f"Opening {path.name}…")
        call = self.worker.request("open_video", path=str(path))
        call.finished.connect(lambda data: self._video_opened(path, data))
        call.failed.connect(lambda error: self._video_failed(path, error))
        return call

    def _video_opened(self, path: Path, data: dict) -> None:
        info = VideoInfo.from_dict(data["info"])
        self.info, self.video_path = info, path
        self.setWindowTitle(f"{path.name} — Scenescope")
        self.view.set_message("")
        self.view.set_video_size(info.width, info.height)
        self.transport.set_video(info.duration_s, info.frame_count)
        self.timeline.set_video(
            str(info.path), info.duration_s, info.frames.times_s, info.frames.start_s, info.rotation
        )
        self.player.open(info, FrameReader(info))
        detail = f"{info.width}x{info.height}, {info.frame_count:,} frames, {info.fps:.3f} fps"
        self.statusBar().showMessage(
            f"{path.name}: {detail}{' (variable frame rate)' if info.vfr else ''}", 8000
        )
        for warning in info.warnings:
            self.banner.show_message(warning, "warning")
        self.video_opened.emit(info)

    def _video_failed(self, path: Path, error: dict) -> None:
        message = error.get("message") or "unknown error"
        self.view.set_message("" if self.info is not None else f"Cannot open {path.name}")
        if error.get("code") != WORKER_EXITED:  # a crash has its own banner
            self.banner.show_message(f"Cannot open {path.name}: {message}", "error")
        self.statusBar().showMessage(f"Cannot open {path.name}", 8000)
        self.video_failed.emit(message)

    def _choose_video(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if name:
            self.open_video(Path(name))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.open_video(Path(files[0]))
            event.acceptProposedAction()

    # ----- playback -----------------------------------------------------------------------------------------
    def _position_changed(self, index: int, time_s: float) -> None:
        self.transport.set_position(index, time_s)
        self.timeline.set_position(time_s)

    def _go_to_time(self) -> None:
        if self.info is None:
            return
        text, ok = QInputDialog.getText(self, "Go to time", "Time (83.5, 1:23.5 or 01:01:23.5):")
        if not ok or not text.strip():
            return
        try:
            self.player.seek(parse_timecode(text))
        except ValueError as e:
            self.statusBar().showMessage(str(e), 6000)

    def _toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # ----- engine -------------------------------------------------------------------------------------------
    def _show_running_job(self) -> None:
        running = self.worker.running()
        call = running[0] if running else None
        self.engine_status.show_job(call.kind if call else None, call.last_progress if call else None)

    def _cancel_running_job(self) -> None:
        running = self.worker.running()
        if running:
            self.worker.cancel(running[0])

    def _engine_crashed(self, reason: str) -> None:
        memory = "memory" in reason.lower()
        advice = " Your session is intact." + (" Lighter settings use less memory." if memory else "")
        self.banner.show_message(reason + advice, "error", restart=True, lighter=memory)

    def _restart_engine(self, lighter: bool) -> None:
        args = list(self.worker.args)
        if lighter:
            args = _with_precision(args, LIGHTER_PRECISION)
        self.banner.hide()
        self.worker.restart(args)
        if self.video_path is not None:
            self.open_video(self.video_path)  # the new worker holds nothing yet

    # ----- dialogs ------------------------------------------------------------------------------------------
    def _show_shortcuts(self) -> None:
        rows = keymap.shortcut_rows(self.actions)
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(rows), 3, dialog)
        table.setHorizontalHeaderLabels(["Menu", "Action", "Keys"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(text))
        table.verticalHeader().hide()
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        dialog.resize(560, 640)
        dialog.setModal(False)
        dialog.show()
        self.shortcuts_dialog = dialog

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Scenescope",
            "Scenescope: ask questions about long videos, find moments, track objects, export clips.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.close()
        self.timeline.thumbnails.close()
        self.worker.stop()
        super().closeEvent(event)


def _with_precision(args: list[str], precision: str) -> list[str]:
    """Worker arguments with `--precision` replaced."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--precision":
            skip = True
            continue
        out.append(arg)
    return [*out, "--precision", precision]
