"""QImage -> numpy for tests that read the barcodes of frames the window painted."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from tests.media import read_barcode


def to_rgb(image: QImage) -> np.ndarray:
    """[H, W, 3] uint8 copy of a QImage."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()


def barcode_of(image: QImage) -> int:
    return read_barcode(to_rgb(image))
