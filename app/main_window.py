"""The main window: the picture with its transport strip, the side panel, the timeline across the bottom,
the engine's state in the status bar, and a banner when the engine fails.

It wires views to the controllers and the engine worker; it holds no engine state of its own. Opening
a video asks the worker to probe it (a damaged file can take the worker down, never the window), then
plays it with the engine's frame table as the identity of every frame shown.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import keymap
from app.banner import Banner
from app.chat_controller import ChatController
from app.chat_panel import ChatPanel
from app.engine_status import EngineStatus
from app.frame_reader import FrameReader
from app.model_setup import ModelSetup
from app.model_setup_dialog import ModelSetupDialog
from app.moments import MomentsController
from app.player import Player
from app.session import SUFFIX
from app.session_controller import SessionController
from app.settings import Settings
from app.settings_dialog import SettingsDialog
from app.shortcuts_dialog import ShortcutsDialog
from app.side_panel import SidePanel
from app.timeline import Timeline
from app.tracking_controller import TrackingController
from app.transport import Transport
from app.video_view import VideoView
from app.window_moments import wire_moments
from app.window_tracking import wire_tracking
from app.worker_client import WORKER_EXITED, Call, WorkerClient
from engine.timecode import parse_timecode
from engine.video import VideoInfo

# The app runs from its checkout (installers/install.sh installs it editable), so assets/ is beside app/.
ICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "scenescope.svg"
VIDEO_FILTER = "Videos (*.mp4 *.mov *.m4v *.mkv *.webm *.avi *.ts *.mts *.m2ts);;All files (*)"
LIGHTER_PRECISION = "int4"  # the settings' name of 4-bit NF4 weights


class MainWindow(QMainWindow):
    video_opened = Signal(object)  # VideoInfo
    video_failed = Signal(str)
    model_setup_requested = Signal(str)  # "internvideo" or "sam2": a feature needs that model set up

    def __init__(self, overrides: argparse.Namespace | None = None, store: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Scenescope")
        self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.store = store if store is not None else QSettings()
        self.overrides = overrides or argparse.Namespace()
        self.settings = Settings.load(self.store)
        self.info: VideoInfo | None = None
        self.video_path: Path | None = None
        self.video_handle: str | None = None  # the worker's name of the open video

        running = self.settings.with_overrides(self.overrides)
        self.worker = WorkerClient(running.worker_args(), self, env=running.worker_env())
        self.sessions = SessionController(self, self.store)
        self.player = Player(self)
        self.view = VideoView()
        self.transport = Transport()
        self.timeline = Timeline()
        self.side = SidePanel()
        self.banner = Banner()
        self.engine_status = EngineStatus()
        self.moments = MomentsController(self.worker, self.player, lambda: self.settings.frame_budget, self)
        self.chat = ChatController(  # the frame budget is read at each question: settings change
            self.worker, self.sessions, self.timeline.view_range, lambda: self.settings.frame_budget, self
        )
        self.chat_panel = ChatPanel(self.chat)
        self.tracking = TrackingController(self.worker, self.sessions, self)
        self._build_layout()
        self._connect()
        self.moments_handlers = wire_moments(self)
        self.tracking_handlers = wire_tracking(self)
        self.actions = keymap.build_actions(self, self._handlers(), self.settings.key_overrides())
        self._connect_chat()
        self._build_menus()
        self.export_dialog = None
        self.statusBar().addPermanentWidget(self.engine_status)
        self.statusBar().showMessage("Open a video to begin")
        self._connect_model_setup()
        self.worker.start()
        self._offer_recovery()

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
        self.player.position_changed.connect(lambda _index, t: self.sessions.position_changed(t))
        self.timeline.view_changed.connect(self.sessions.view_changed)
        self.sessions.failed.connect(lambda text: self.banner.show_message(text, "warning"))

    def track_in_moment(self, start_s: float, end_s: float) -> None:
        """The moments list's "Track in this moment": tracking mode at its start, tracking limited to it."""
        self.player.seek(self.tracking.track_in_moment(start_s, end_s))

    def _handlers(self) -> dict:
        p = self.player
        return {
            "open": self._choose_video,
            "save_session_as": self._save_session_as,
            "relink": self._relink,
            "settings": self._edit_settings,
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
            "export": self._open_export,
            "shortcuts": self._show_shortcuts,
            "about": self._about,
            **self.moments_handlers,
            "focus_question": lambda: (
                self.side.setCurrentWidget(self.chat_panel),
                self.chat_panel.focus_question(),
            ),
            "new_conversation": self.chat.new_conversation,
            "cancel_answer": self.chat.cancel,
            **self.tracking_handlers,
        }

    def _connect_chat(self) -> None:
        """The Chat page: asks through the worker, seeks the player; a span it proposes becomes a
        moment, and the selected moment is its "selected span" scope; saved in the session."""
        self.side.set_page("Chat", self.chat_panel)
        self.side.setCurrentWidget(self.chat_panel)
        self.video_opened.connect(lambda info: self.chat.set_video(info, self.video_handle))
        self.worker.status_changed.connect(self.chat_panel.show_model_status)
        self.chat.seek_requested.connect(self.player.seek)
        self.chat.model_setup_requested.connect(self.model_setup_requested)
        cancel = self.actions["cancel_answer"]
        cancel.setEnabled(False)  # Esc is the player's and the dialogs' unless an answer streams
        self.chat.busy_changed.connect(cancel.setEnabled)
        self.chat.moment_proposed.connect(self.moments.add_moment)
        self.moments.selection_changed.connect(
            lambda span: self.chat.set_selected_span(*((span.start_s, span.end_s) if span else (None,)))
        )

    def _build_menus(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in keymap.MENUS}
        for binding in keymap.KEYMAP:
            if binding.name in ("quit", "settings", "save_session_as"):
                menus[binding.menu].addSeparator()
            menus[binding.menu].addAction(self.actions[binding.name])
            if binding.name == "open":
                self.recent_menu = menus["File"].addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(
                    lambda: self.sessions.recent.fill_menu(self.recent_menu, self.open_video)
                )
        self.addActions(list(self.actions.values()))  # shortcuts work in full screen, with menus hidden

    # ----- opening ------------------------------------------------------------------------------------------
    def open_video(self, path: str | Path) -> Call | None:
        """Open a video (or a .scenescope session): its session first, then the worker probes the video;
        the video appears when it answers, with the view as the session left it."""
        self.banner.video_closed()  # what it said was about the video open until now
        path = self.sessions.begin(path)
        if path is None:
            return None
        self.statusBar().showMessage(f"Opening {path.name}…")
        self.view.set_message(f"Opening {path.name}…")
        call = self.worker.request("open_video", path=str(path))
        call.finished.connect(lambda data: self._video_opened(path, data))
        call.failed.connect(lambda error: self._video_failed(path, error))
        return call

    def _video_opened(self, path: Path, data: dict) -> None:
        info = VideoInfo.from_dict(data["info"])
        self.info, self.video_path, self.video_handle = info, path, data["video"]
        session = self.sessions.session
        view = replace(session.view) if session is not None else None  # as saved: set_video changes it
        self.setWindowTitle(f"{path.name} — Scenescope")
        self.view.set_message("")
        self.view.set_video_size(info.width, info.height)
        self.transport.set_video(info.duration_s, info.frame_count)
        self.timeline.set_video(
            str(info.path), info.duration_s, info.frames.times_s, info.frames.start_s, info.rotation
        )
        start_s = view.position_s if view is not None and view.position_s < info.duration_s else 0.0
        self.timeline.set_position(start_s)
        if view is not None and view.start_s is not None and view.end_s is not None:
            self.timeline.set_view_range(view.start_s, view.end_s)
        self.player.open(info, FrameReader(info), start_s)
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

    def _relink(self) -> None:
        """Point the open session at another copy of its video (the content must be the same)."""
        from app.relink_dialog import ask_relink

        session = self.sessions.session
        if session is None:
            self.statusBar().showMessage("Open a video first: relinking points its session at a copy.", 5000)
        elif (relinked := ask_relink(self, session)) is not None:
            self.sessions.keeper.session = relinked
            self.sessions.keeper.mark_dirty()
            self.open_video(relinked.video.path)

    def _save_session_as(self) -> None:
        if self.sessions.session is None:
            self.statusBar().showMessage("Open a video first: its session is saved automatically.", 5000)
            return
        name, _ = QFileDialog.getSaveFileName(self, "Save session as", "", f"Sessions (*{SUFFIX})")
        if name:
            self.sessions.save_copy(name if name.endswith(SUFFIX) else name + SUFFIX)

    def _offer_recovery(self) -> None:
        """After a crash: offer the session that was open (non-modal; the user may just carry on)."""
        found = self.sessions.crashed_sessions()
        if not found:
            return
        last = found[0]
        for older in found[1:]:
            older.dismiss()

        def restore() -> None:
            last.dismiss()
            self.open_video(last.session_path)

        name = last.session.video.path.name
        text = f"Scenescope did not close cleanly last time, with {name} open. Restore that session?"
        self.banner.show_message(text, "info", [("Restore", restore)], keep=True)
        self.banner.button("Dismiss").clicked.connect(last.dismiss)

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
        actions = [("Restart engine", lambda: self._restart_engine(False))]
        if memory:
            actions.append(("Restart with lighter settings", lambda: self._restart_engine(True)))
        self.banner.show_message(reason + advice, "error", actions, keep=True)

    def _restart_engine(self, lighter: bool) -> None:
        running = self.settings.with_overrides(self.overrides)
        if lighter:
            running = replace(running, precision=LIGHTER_PRECISION)
            self.overrides.precision = LIGHTER_PRECISION  # for this run; the saved settings stay
        self.worker.env = running.worker_env()
        self.worker.restart(running.worker_args())
        if self.video_path is not None:
            self.open_video(self.video_path)  # the new worker holds nothing yet

    def _edit_settings(self) -> SettingsDialog:
        """File ▸ Settings (window-modal, never blocking): OK saves and applies them."""
        rows = [(b.name, b.label, list(b.keys)) for b in keymap.KEYMAP]
        dialog = SettingsDialog(self.settings, rows, self, model_setup=self.show_model_setup)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.open()
        return dialog

    def _apply_settings(self, dialog: SettingsDialog) -> None:
        before = self.settings.with_overrides(self.overrides)
        self.settings = dialog.chosen()
        self.settings.save(self.store)
        keymap.apply_overrides(self.actions, self.settings.key_overrides())
        after = self.settings.with_overrides(self.overrides)
        if (before.worker_args(), before.worker_env()) != (after.worker_args(), after.worker_env()):
            self.statusBar().showMessage("Engine settings changed: restarting the engine…", 5000)
            self._restart_engine(False)

    # ----- export -------------------------------------------------------------------------------------------
    def _open_export(self) -> None:
        """The export dialog for the accepted moments (or the selected one) and the tracked objects."""
        from app.export_dialog import ExportDialog

        if self.export_dialog is not None and self.export_dialog.controller.busy:
            self.export_dialog.show()  # closed while its export runs: the same one again
            self.export_dialog.raise_()
            return
        t = self.tracking
        objects = {o.obj_id: o.name for o in t.objects() if t.store is not None and t.store.prompts(o.obj_id)}
        spans = self.moments.accepted_or_selected() if self.info is not None else []
        self.export_dialog = ExportDialog(
            self.worker, self.video_handle, self.info, spans, self.store, None, objects, self
        )
        self.export_dialog.show()
        if objects:  # a reopened session's tracker is rebuilt first
            t.with_tracker(self.export_dialog.set_tracker)

    # ----- dialogs ------------------------------------------------------------------------------------------
    def _connect_model_setup(self) -> None:
        self.model_setup_requested.connect(self.show_model_setup)

    def show_model_setup(self, which: str, parent: QWidget | None = None) -> ModelSetupDialog:
        """Open the model setup dialog for "internvideo" or "sam2" (window-modal, never blocking), over
        `parent` (the settings dialog) or the window."""
        setup = ModelSetup(self.worker, which, self)
        setup.folder_chosen.connect(self._use_model_folder)
        dialog = ModelSetupDialog(setup, parent or self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the setup stays: calls may be in flight
        setup.refresh()
        dialog.open()
        return dialog

    def _use_model_folder(self, which: str, folder: str) -> None:
        """A verified folder becomes the model to load: saved in the settings and sent to the worker."""
        setting, worker_field = ("model", "internvideo") if which == "internvideo" else ("sam_model", "sam2")
        self.settings = replace(self.settings, **{setting: folder})
        self.settings.save(self.store)
        self.worker.request("configure", **{worker_field: folder})
        self.statusBar().showMessage(f"Using the model in {folder}", 5000)

    def _show_shortcuts(self) -> None:
        self.shortcuts_dialog = ShortcutsDialog(self.actions, self)  # non-modal: keys can be tried beside it
        self.shortcuts_dialog.show()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Scenescope",
            "Scenescope: ask questions about long videos, find moments, track objects, export clips.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.chat_panel.close_frames()
        self.tracking.close()
        self.sessions.close()
        self.player.close()
        self.timeline.thumbnails.close()
        self.worker.stop()
        super().closeEvent(event)
