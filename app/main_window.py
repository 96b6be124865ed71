"""The main window: menus and a status line. The player and timeline arrive with their own issue."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox

# The app runs from its checkout (installers/install.sh installs it editable), so assets/ is beside app/.
ICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "scenescope.svg"
VIDEO_FILTER = "Videos (*.mp4 *.mov *.m4v *.mkv *.webm *.avi *.ts *.mts *.m2ts);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Scenescope")
        self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.resize(1280, 800)
        self.video_path: Path | None = None
        self._placeholder = QLabel("Open a video with File ▸ Open (Ctrl+O)")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._placeholder)
        self._build_menus()
        self.statusBar().showMessage("Ready")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self._choose_video)
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Scenescope", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def open_video(self, path: Path) -> None:
        self.video_path = Path(path)
        self.setWindowTitle(f"{self.video_path.name} — Scenescope")
        self._placeholder.setText(str(self.video_path))
        self.statusBar().showMessage(f"Opened {self.video_path}")

    def _choose_video(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if name:
            self.open_video(Path(name))

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Scenescope",
            "Scenescope: ask questions about long videos, find moments, track objects, export clips.",
        )
