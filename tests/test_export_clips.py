"""Clips hold exactly the frames asked for, by content, with their times, rotation and audio in sync.

Every check reads the written file back with PyAV: frame barcodes (which source frame each output
frame shows), frame timestamps, durations, the display rotation, and the audio samples, located in the
source's audio by cross-correlation. Burn-in clips are held to the same checks against the plain clip
of the same span, plus the masks drawn and the encoder settings used.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from engine.errors import ExportError
from engine.export import EncodeSettings, export_clip, frame_range
from engine.export.burn_in import ALPHA, PALETTE
from engine.export.video_track import can_copy
from engine.jobs import Cancelled, Job, Progress
from engine.tracking import FrameMask, TrackStore, encode_mask
from engine.video import decode_frames, decode_native_frames, probe
from tests.media import audio_samples, read_barcode

FAST = EncodeSettings(preset="ultrafast")
PSNR_FLOOR_DB = 32  # measured 33.5 dB mean on this random-block texture (CRF 18, preset medium); CRF 30: 26.6
VFR_DURATIONS = [0.04] * 20 + [0.02] * 20 + [0.1, 0.04] * 10  # 60 frames, 25/50/~14 fps

SOURCES = {
    "bframes.mp4": {"frames": 100, "gop": 25, "bframes": 2, "audio": True, "audio_signal": "noise"},
    "vfr.mp4": {
        "durations_s": VFR_DURATIONS,
        "gop": 12,
        "bframes": 3,
        "audio": True,
        "audio_signal": "noise",
    },
    "rotated.mp4": {"frames": 60, "gop": 20, "bframes": 2, "rotation_ccw": -90, "width": 322, "height": 242},
    "silent.mp4": {"frames": 60, "gop": 20, "bframes": 0},
    "h264.ts": {"frames": 100, "gop": 25, "bframes": 2, "audio": True, "audio_signal": "noise"},
    "fragmented.mp4": {
        "frames": 100,
        "gop": 25,
        "bframes": 2,
        "audio": True,
        "audio_signal": "noise",
        "movflags": "frag_keyframe+empty_moov",
    },
    "h264.mkv": {"frames": 100, "gop": 25, "bframes": 2, "audio": True, "audio_signal": "noise"},
    "hevc.mp4": {"codec": "libx265", "frames": 60, "gop": 20, "bframes": 3},
    "pcm192k.mov": {"frames": 50, "gop": 25, "audio": True, "audio_codec": "pcm_s16le", "audio_rate": 192000},
    "mp3.mkv": {"frames": 60, "gop": 20, "audio": True, "audio_codec": "libmp3lame", "audio_signal": "noise"},
    "odd.webm": {"codec": "libvpx-vp9", "frames": 30, "gop": 10, "width": 161, "height": 121},  # odd 4:2:0
    "bt709.mp4": {
        "frames": 50,
        "gop": 25,
        "audio": True,
        "audio_signal": "noise",
        "options": {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709"},
    },
}


def decoded(path, turned: int = 0):
    """[(barcode, pts seconds)] of every video frame of `path`, and its audio.

    Barcodes are read in the source's coded orientation: `turned` is the rotation (degrees clockwise)
    the file's pictures were turned by from it (a burn-in clip of a rotated source).
    """
    with av.open(str(path)) as c:
        frames = [
            (read_barcode(np.rot90(f.to_ndarray(format="rgb24"), k=turned // 90)), float(f.time))
            for f in c.decode(video=0)
        ]
        if not c.streams.audio:
            return frames, None
        c.seek(0)
        chunks = [f.to_ndarray()[0] for f in c.decode(audio=0)]  # first channel, planar float
        return frames, (np.concatenate(chunks), c.streams.audio[0].rate)


def audio_offset(clip_audio: np.ndarray, source: np.ndarray, expected: int, rate: int) -> int:
    """Where in `source` the clip's audio best matches, minus `expected` (samples; 0 means in sync)."""
    probe_len, skip = min(rate // 5, len(clip_audio) - 1100), 1100  # skip the first AAC frame's pre-roll
    needle = clip_audio[skip : skip + probe_len]
    search = rate // 20  # +-50 ms
    lo = expected + skip - search
    window = source[max(lo, 0) : expected + skip + search + probe_len]
    scores = np.correlate(window, needle, mode="valid")
    return int(np.argmax(scores)) + max(lo, 0) - (expected + skip)


def check_clip(media_path, clip, start_s, end_s, info):
    """All the properties a clip must have, read back from the file."""
    frames = frame_range(info.frames, start_s, end_s)
    assert clip.frames == frames
    with av.open(str(clip.path)) as c:
        stream = c.streams.video[0]
        assert c.format.name.startswith("mov,mp4") and stream.codec_context.name == "h264"
        assert float(stream.duration * stream.time_base) == pytest.approx(frames.duration_s, abs=1e-4)
        rotation = (-round(next(c.decode(stream)).rotation / 90) * 90) % 360
    assert rotation == info.rotation
    # Content: exactly the source frames first..last, in order.
    got, audio = decoded(clip.path)
    assert [code for code, _ in got] == list(range(frames.first, frames.last + 1))
    # Times: start at 0 and keep every source frame's own time (variable frame rate included).
    want_times = info.frames.times_s[frames.first : frames.last + 1] - frames.start_s
    np.testing.assert_allclose([t for _, t in got], want_times, atol=1e-4)
    # Duration within one frame of the request: the frames on screen at the cut points bound the error.
    durations = info.frames.frame_durations
    one_frame = max(durations[info.frames.index_at(max(start_s, 0.0))], durations[frames.last])
    clamped = min(end_s, info.duration_s) - max(start_s, 0.0)
    assert abs(frames.duration_s - clamped) < one_frame
    if frames.frame_count > 1:  # probe refuses single pictures
        out = probe(clip.path)
        assert (out.width, out.height, out.rotation) == (info.width, info.height, info.rotation)
        assert out.frames.start_s == 0 and out.frames.times_s[0] == 0
    # Audio: present iff the source has it, as long as the clip, and in sync.
    assert (audio is not None) == info.has_audio == (clip.audio is not None)
    if audio is not None:
        check_audio(media_path, clip, frames, info, *audio)


def check_audio(media_path, clip, frames, info, samples, rate):
    with av.open(str(clip.path)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert float(stream.duration * stream.time_base) == pytest.approx(frames.duration_s, abs=1 / rate)
    assert abs(len(samples) / rate - frames.duration_s) < 1024 / rate  # decoders play whole AAC frames
    if media_path[1].get("audio_signal") != "noise":
        return
    # make_video starts the signal with video frame 0; some containers put both later than 0.
    expected = round((frames.start_s - info.frames.times_s[0]) * rate)
    source = audio_samples("noise", rate, int(info.duration_s * rate) + rate)
    offset = audio_offset(samples, source, expected, rate)
    with av.open(str(media_path[0])) as c:  # a container stamps audio to within one of its ticks
        tolerance = int(np.ceil(rate * c.streams.audio[0].time_base / 2))
    assert abs(offset) <= tolerance, f"audio is {offset} samples off"


@pytest.fixture
def source(media):
    def make(name):
        kwargs = SOURCES[name]
        path = media(name, **kwargs)
        return (path, kwargs), probe(path)

    return make


# (source, start_s, end_s, how the video must be made with reencode=False)
CASES = [
    ("bframes.mp4", 1.0, 2.0, "copy"),  # starts on the IDR at frame 25, ends before a P-frame
    ("bframes.mp4", 1.0, 1.96, "smart"),  # ends between B-frames: their P-frame lies outside
    ("bframes.mp4", 0.5, 1.5, "smart"),  # starts mid-GOP, holds the IDR at frame 25
    ("bframes.mp4", 0.5, 0.9, "encode"),  # inside one GOP: nothing to copy
    ("bframes.mp4", 0.0, 99.0, "copy"),  # the whole file: end clamped
    ("bframes.mp4", 3.01, 3.03, "copy"),  # shorter than a frame: keyframe 75, on screen at 3.01
    ("bframes.mp4", 3.05, 3.07, "encode"),  # shorter than a frame: B-frame 76, on screen at 3.05
    ("vfr.mp4", 0.48, 1.76, "copy"),  # keyframe 12 (at 0.48 s) to P-frame 47 (shown 1.72..1.76)
    ("vfr.mp4", 0.5, 1.9, "smart"),
    ("vfr.mp4", 0.5, 0.7, "encode"),
    ("rotated.mp4", 0.8, 1.6, "copy"),
    ("rotated.mp4", 0.3, 1.3, "smart"),
    ("silent.mp4", 0.9, 2.0, "smart"),
    ("silent.mp4", 0.8, 1.6, "copy"),
    ("h264.ts", 1.02, 2.02, "copy"),  # Annex B packets into MP4; AAC re-encoded (90 kHz timestamps)
    ("h264.ts", 0.7, 2.3, "smart"),  # (MPEG-TS starts its frames 21.3 ms after the file's start)
    ("fragmented.mp4", 1.08, 2.08, "copy"),  # a moof per GOP; no edit list: video 80 ms after audio
    ("fragmented.mp4", 0.5, 1.5, "smart"),
    ("h264.mkv", 1.0, 2.0, "encode"),  # Matroska has no decode timestamps: never copied
    ("hevc.mp4", 0.8, 1.6, "encode"),  # clips are H.264: HEVC is always re-encoded
    ("mp3.mkv", 0.5, 1.7, "encode"),
    ("pcm192k.mov", 0.4, 1.4, "smart"),  # 192 kHz PCM: AAC has no such rate, resampled to 48 kHz
    ("odd.webm", 0.3, 0.9, "encode"),  # 161x121 4:2:0, which x264 refuses: encoded as 4:4:4
]


@pytest.mark.parametrize(("name", "start_s", "end_s", "video"), CASES)
def test_clip_holds_exactly_the_requested_frames(source, tmp_path, name, start_s, end_s, video):
    media_path, info = source(name)
    clip = export_clip(info, start_s, end_s, tmp_path / "clip.mp4", settings=FAST)
    assert clip.video == video
    if info.has_audio:
        assert clip.audio == ("copy" if name.endswith(".mp4") else "encode")
    check_clip(media_path, clip, start_s, end_s, info)


@pytest.mark.parametrize(("name", "start_s", "end_s"), [(n, s, e) for n, s, e, how in CASES if how == "copy"])
def test_reencoding_a_copyable_range_gives_the_same_frames(source, tmp_path, name, start_s, end_s):
    media_path, info = source(name)
    clip = export_clip(info, start_s, end_s, tmp_path / "clip.mp4", reencode=True, settings=FAST)
    assert clip.video == "encode" and clip.audio in (None, "encode")
    check_clip(media_path, clip, start_s, end_s, info)


@pytest.mark.parametrize(
    ("name", "start_s", "end_s"), [(n, s, e) for n, s, e, how in CASES if how == "smart"]
)
def test_without_smart_cut_the_whole_clip_is_encoded(source, tmp_path, name, start_s, end_s):
    media_path, info = source(name)
    settings = EncodeSettings(preset="ultrafast", smart_cut=False)
    clip = export_clip(info, start_s, end_s, tmp_path / "clip.mp4", settings=settings)
    assert clip.video == "encode"
    check_clip(media_path, clip, start_s, end_s, info)


@pytest.mark.parametrize("name", ["bframes.mp4", "vfr.mp4", "h264.ts"])
def test_frame_rule_on_random_ranges(source, name):
    """Frames in [start, end) by presentation time; the clip is within one frame of the request."""
    _, info = source(name)
    table = info.frames
    times, durations = table.times_s, table.frame_durations
    rng = np.random.default_rng(0)
    for start, length in zip(
        rng.uniform(-0.2, info.duration_s, 500), rng.uniform(0.001, 2.0, 500), strict=True
    ):
        end = start + length
        if start >= info.duration_s or end <= 0:
            with pytest.raises(ValueError, match="holds no frame"):
                frame_range(table, start, end)
            continue
        r = frame_range(table, start, end)
        lo, hi = max(start, 0.0), min(end, info.duration_s)
        inside = np.flatnonzero((times >= lo - 5e-7) & (times < hi - 5e-7))
        if inside.size:
            assert (r.first, r.last) == (inside[0], inside[-1])
        else:  # nothing starts inside: the frame on screen at the start
            assert r.first == r.last == table.index_at(lo)
        assert r.start_s == times[r.first] and r.end_s == pytest.approx(
            times[r.first] + durations[r.first : r.last + 1].sum()
        )
        if lo >= times[0]:  # (MPEG-TS shows its first frame 21 ms after the file's start)
            on_screen_at_cuts = max(durations[table.index_at(lo)], durations[r.last])
            assert abs(r.duration_s - (hi - lo)) < on_screen_at_cuts + 1e-9


def test_copied_clip_is_bit_exact(source, tmp_path):
    (path, _), info = source("bframes.mp4")
    clip = export_clip(info, 1.0, 2.0, tmp_path / "clip.mp4")
    with av.open(str(path)) as src, av.open(str(clip.path)) as out:
        want = [bytes(p) for p in src.demux(video=0) if p.size and 25 <= p.pts // 3600 < 50]
        got = [bytes(p) for p in out.demux(video=0) if p.size]
    assert got == want


def test_open_gop_keyframes_are_not_copy_points(media, tmp_path):
    """An open-GOP I-frame is flagged as a keyframe but is not an IDR picture: re-encode from it."""
    params = "open-gop=1:keyint=20:min-keyint=20:scenecut=0"
    path = media("open_gop.mp4", frames=80, gop=20, bframes=3, options={"x264-params": params})
    info = probe(path)
    assert info.frames.keyframe[40]
    frames = frame_range(info.frames, info.frames.time_of(40), info.frames.time_of(60))
    assert not can_copy(info, frames)
    clip = export_clip(
        info, info.frames.time_of(40), info.frames.time_of(60), tmp_path / "c.mp4", settings=FAST
    )
    assert clip.video == "encode"
    check_clip((path, {}), clip, info.frames.time_of(40), info.frames.time_of(60), info)


def test_reencode_keeps_pixel_format_and_quality(media, tmp_path):
    """CRF 18 (the default) on a hard, noisy texture: close to the source, and `crf` is applied."""
    path = media("yuv444.mp4", frames=30, gop=10, pix_fmt="yuv444p", texture=True)
    info = probe(path)

    def mean_psnr(settings, name):
        clip = export_clip(info, 0.2, 0.8, tmp_path / name, settings=settings)
        assert clip.video == "encode"
        with av.open(str(clip.path)) as c:
            assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"
        wanted = range(clip.frames.first, clip.frames.last + 1)
        source = [f.image.astype(float) for f in decode_frames(info, wanted)]
        out = [f.image for f in decode_frames(probe(clip.path), range(clip.frames.frame_count))]
        mse = [np.mean((a - b) ** 2) for a, b in zip(source, out, strict=True)]
        return float(np.mean(10 * np.log10(255**2 / np.array(mse))))

    whole = {"smart_cut": False}  # 0.2..0.8 s holds an IDR picture: smart cut would copy most of it
    high = mean_psnr(EncodeSettings(**whole), "crf18.mp4")
    low = mean_psnr(EncodeSettings(crf=30, **whole), "crf30.mp4")
    assert high > PSNR_FLOOR_DB, f"CRF 18: {high:.1f} dB"
    assert high > low + 3, f"CRF 18 {high:.1f} dB vs CRF 30 {low:.1f} dB"


def test_native_frames_are_the_decoded_frames(source):
    _, info = source("rotated.mp4")
    indices = [0, 5, 21, 22, 59]
    rgb = {f.index: f.image for f in decode_frames(info, indices)}
    for native in decode_native_frames(info, indices):
        assert native.frame.format.name == "yuv420p"
        coded = native.frame.to_ndarray(format="rgb24")
        np.testing.assert_array_equal(np.rot90(coded, k=-info.rotation // 90), rgb[native.index])


def test_existing_file_is_kept_unless_overwrite(source, tmp_path):
    _, info = source("silent.mp4")
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="already exists"):
        export_clip(info, 0.0, 1.0, target)
    assert target.read_bytes() == b"keep me"
    export_clip(info, 0.0, 1.0, target, overwrite=True, settings=FAST)
    assert probe(target).frame_count == 25


@pytest.mark.parametrize(
    ("start_s", "reencode"), [(1.0, False), (0.5, False), (1.0, True)]
)  # copy, smart, encode
def test_cancelled_clip_leaves_no_file(source, tmp_path, start_s, reencode):
    _, info = source("bframes.mp4")
    seen = []

    def progress(p: Progress):
        seen.append(p.done)
        if len(seen) == 10:
            job.cancel()

    job = Job(on_progress=progress)
    with pytest.raises(Cancelled):
        export_clip(info, start_s, 3.0, tmp_path / "c.mp4", reencode=reencode, job=job)
    assert seen == list(range(1, 11))
    assert list(tmp_path.iterdir()) == []


def test_failed_encoder_leaves_no_file(source, tmp_path):
    _, info = source("bframes.mp4")
    with pytest.raises(av.error.ArgumentError, match="no-such-preset"):
        export_clip(info, 0.5, 1.5, tmp_path / "c.mp4", settings=EncodeSettings(preset="no-such-preset"))
    assert list(tmp_path.iterdir()) == []


def test_range_after_the_end_is_refused(source, tmp_path):
    _, info = source("silent.mp4")
    with pytest.raises(ExportError, match="holds no frame"):
        export_clip(info, 5.0, 6.0, tmp_path / "c.mp4")
    assert list(tmp_path.iterdir()) == []


def box_store(info, x0: float, y0: float, x1: float, y1: float) -> TrackStore:
    """Object 1 as the same box on every frame, corners given as fractions of the displayed picture."""
    mask = np.zeros((info.height, info.width), bool)
    box = (round(x0 * info.width), round(y0 * info.height), round(x1 * info.width), round(y1 * info.height))
    mask[box[1] : box[3], box[0] : box[2]] = True
    store = TrackStore(width=info.width, height=info.height)
    rle, bbox, area = encode_mask(mask)
    for i in range(info.frame_count):
        store.put(1, FrameMask(i, info.frames.time_of(i), rle, bbox, area, 0.9))
    return store


MASK_BOX = (0.1, 0.6, 0.4, 0.9)  # clear of the barcode in both orientations, and of its own label
BURN_CASES = [
    ("bframes.mp4", 0.5, 1.5),  # a plain clip smart-cuts this
    ("bframes.mp4", 1.0, 2.0),  # ... and copies this
    ("vfr.mp4", 0.5, 1.9),
    ("rotated.mp4", 0.3, 1.3),
    ("h264.mkv", 1.0, 2.0),  # Matroska: millisecond timestamps
    ("h264.ts", 0.7, 2.3),
    ("fragmented.mp4", 0.5, 1.5),
    ("mp3.mkv", 0.5, 1.7),
    ("bt709.mp4", 0.3, 1.5),
    ("odd.webm", 0.3, 0.9),
]


def box_slices(info, margin: int = 3):
    """Rows and columns well inside MASK_BOX, and a patch well outside it (and its outline and label)."""
    x0, y0, x1, y1 = MASK_BOX
    w, h = info.width, info.height
    inside = (
        slice(round(y0 * h) + margin, round(y1 * h) - margin),
        slice(round(x0 * w) + margin, round(x1 * w) - margin),
    )
    outside = (slice(round(0.65 * h), round(0.95 * h)), slice(round(0.55 * w), round(0.9 * w)))
    return inside, outside


@pytest.mark.parametrize(("name", "start_s", "end_s"), BURN_CASES)
def test_burned_in_clip_is_the_plain_clip_with_masks_drawn(source, tmp_path, name, start_s, end_s):
    media_path, info = source(name)
    store = box_store(info, *MASK_BOX)
    plain = export_clip(info, start_s, end_s, tmp_path / "plain.mp4", settings=FAST)
    burned = export_clip(info, start_s, end_s, tmp_path / "burned.mp4", settings=FAST, tracks=store)
    assert burned.video == "burn-in" and burned.frames == plain.frames and burned.audio == plain.audio
    # The same frames at the same times, stored upright: the displayed size, no rotation flag.
    got, audio = decoded(burned.path, turned=info.rotation)
    want, _ = decoded(plain.path)
    assert [code for code, _ in got] == [code for code, _ in want]
    np.testing.assert_allclose([t for _, t in got], [t for _, t in want], atol=1e-6)
    out = probe(burned.path)
    assert (out.width, out.height, out.rotation) == (info.width, info.height, 0)
    with av.open(str(burned.path)) as c:
        stream = c.streams.video[0]
        assert float(stream.duration * stream.time_base) == pytest.approx(plain.frames.duration_s, abs=1e-4)
        assert colour_tags(stream) == colour_tags_of(plain.path)  # tagged as a plain re-encode is
    # The audio: the plain clip's path (copied or re-encoded), as long as the clip and in sync.
    assert (audio is not None) == info.has_audio
    if audio is not None:
        check_audio(media_path, burned, burned.frames, info, *audio)
    # The mask: tinted in its colour where the store says, the picture untouched elsewhere.
    color = np.array(PALETTE[0], dtype=np.float32)
    inside, outside = box_slices(info)
    wanted = range(burned.frames.first, burned.frames.last + 1)
    shown = range(burned.frames.frame_count)
    for original, drawn in zip(decode_frames(info, wanted), decode_frames(out, shown), strict=True):
        a, b = original.image.astype(np.float32), drawn.image.astype(np.float32)
        assert np.abs(b[inside] - (a[inside] * (1 - ALPHA) + color * ALPHA)).mean() < 4
        assert np.abs(b[outside] - a[outside]).mean() < 4


def colour_tags(stream) -> tuple:
    cc = stream.codec_context
    return cc.pix_fmt, cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc


def colour_tags_of(path) -> tuple:
    with av.open(str(path)) as c:
        return colour_tags(c.streams.video[0])


def x264_options(path) -> dict[str, str]:
    """The settings x264 wrote into the first picture's SEI ("options: cabac=1 ref=3 ... crf=18.0 ...")."""
    with av.open(str(path)) as c:
        data = bytes(next(p for p in c.demux(video=0) if p.size))
    text = data[data.index(b"options: ") + 9 :].split(b"\x00")[0].decode("ascii", "replace")
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def audio_bits_per_second(path, seconds: float) -> float:
    with av.open(str(path)) as c:
        channels = c.streams.audio[0].channels
        return sum(p.size for p in c.demux(audio=0)) * 8 / seconds / channels


@pytest.mark.parametrize("burn", [False, True])
def test_encode_settings_reach_the_encoders(source, tmp_path, burn):
    """crf, preset and audio bitrate as given, read back from the stream (x264 writes its options)."""
    _, info = source("h264.mkv")  # re-encoded video, re-encoded audio
    tracks = box_store(info, *MASK_BOX) if burn else None
    made = {}
    for crf, preset, bitrate in ((30, "ultrafast", 32_000), (20, "medium", 128_000)):
        settings = EncodeSettings(crf=crf, preset=preset, audio_bitrate=bitrate)
        clip = export_clip(info, 0.5, 3.5, tmp_path / f"{preset}.mp4", settings=settings, tracks=tracks)
        assert clip.video == ("burn-in" if burn else "encode") and clip.audio == "encode"
        options = x264_options(clip.path)
        assert float(options["crf"]) == crf
        made[preset] = options
        assert audio_bits_per_second(clip.path, clip.frames.duration_s) == pytest.approx(bitrate, rel=0.15)
    # What the presets set (x264's preset table): ultrafast turns off CABAC and subpel refinement.
    assert (made["ultrafast"]["cabac"], made["ultrafast"]["subme"], made["ultrafast"]["ref"]) == (
        "0",
        "0",
        "1",
    )
    assert (made["medium"]["cabac"], made["medium"]["subme"], made["medium"]["ref"]) == ("1", "7", "3")


def test_cancelled_burn_in_leaves_no_file(source, tmp_path):
    _, info = source("bframes.mp4")
    job = Job(on_progress=lambda p: p.done == 5 and job.cancel())
    with pytest.raises(Cancelled):
        export_clip(info, 0.5, 3.0, tmp_path / "c.mp4", tracks=box_store(info, *MASK_BOX), job=job)
    assert list(tmp_path.iterdir()) == []


def test_tracks_of_another_video_are_refused(source, tmp_path):
    _, info = source("rotated.mp4")
    store = TrackStore(width=info.height, height=info.width)  # the coded size, not the displayed one
    with pytest.raises(ExportError, match="belong to another video"):
        export_clip(info, 0.0, 1.0, tmp_path / "c.mp4", tracks=store)
    assert list(tmp_path.iterdir()) == []
