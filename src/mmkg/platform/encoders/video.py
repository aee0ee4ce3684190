"""Video features: decode with PyAV, sample frames, encode them with an image encoder, pool.

Sampling is ``uniform`` (N frames evenly over the clip) or ``scenes`` (one frame per detected
shot, where consecutive thumbnails differ most, topped up uniformly to N): cheap, since the
thumbnails are 16×16 greyscale. Pooling over time is ``mean``, ``max``, or ``attention``: each
frame weighted by softmax of its agreement with the clip's mean, so shot transitions and
outlier frames count less (parameter-free, so it needs no training data). Optional
per-segment vectors pool equal slices of the sampled frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmkg.errors import DataError
from mmkg.platform.encoders.base import F32, Encoder, unit_rows

if TYPE_CHECKING:
    from PIL import Image

SAMPLINGS = ("uniform", "scenes")
POOLINGS = ("mean", "max", "attention")
# Longer clips are sampled by seeking instead of decoding every frame.
_DECODE_ALL_FRAMES = 3000
# Sampled frames are scaled while decoding so their long side is at most this (encoders look at
# 224-384 pixels); memory stays bounded for 4K clips.
MAX_FRAME_SIDE = 448


@dataclass
class VideoProbe:
    duration: float | None
    fps: float | None
    frames: int
    width: int
    height: int
    codec: str

    def to_props(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "fps": self.fps,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
        }


@dataclass
class VideoFeatures:
    probe: VideoProbe
    vector: F32
    segments: F32 | None
    sampled: int
    times: list[float] = field(default_factory=list)


def probe_video(path: Path) -> VideoProbe:
    """Duration, fps, frame count, size and codec; raises DataError for undecodable files."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("no video stream")
            stream = container.streams.video[0]
            duration = None
            if container.duration:
                duration = float(container.duration / av.time_base)
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            fps = float(stream.average_rate) if stream.average_rate else None
            frames = int(stream.frames or 0)
            if not frames and duration and fps:
                frames = round(duration * fps)  # webm and others do not store it
            return VideoProbe(
                duration=round(duration, 3) if duration else None,
                fps=round(fps, 3) if fps else None,
                frames=frames,
                width=int(stream.codec_context.width),
                height=int(stream.codec_context.height),
                codec=str(stream.codec_context.name),
            )
    except DataError:
        raise
    except (av.FFmpegError, IndexError, ValueError, OSError, EOFError) as e:
        raise DataError(f"not a decodable video ({type(e).__name__}: {e})") from None


def _small(frame: Any) -> Image.Image:
    """A decoded frame as an RGB image no larger than MAX_FRAME_SIDE: scaled while decoding,
    so a 4K clip never holds full-resolution frames."""
    w, h = int(frame.width), int(frame.height)
    scale = min(1.0, MAX_FRAME_SIDE / max(w, h, 1))
    if scale < 1.0:
        frame = frame.reformat(width=max(2, round(w * scale)), height=max(2, round(h * scale)))
    image: Image.Image = frame.to_image()
    return image


def _frame_times(path: Path) -> list[float]:
    """Presentation time of every frame (one cheap pass, nothing kept but the times)."""
    import av

    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base or 0)
        for frame in container.decode(stream):
            times.append(frame.pts * base if frame.pts is not None else float(len(times)))
    return times


def _decode_picked(path: Path, picked: set[int]) -> list[tuple[float, Image.Image]]:
    """Decode the clip once, keeping (downscaled) only the frames whose index is in ``picked``."""
    import av

    out: list[tuple[float, Image.Image]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base or 0)
        for i, frame in enumerate(container.decode(stream)):
            if i in picked:
                t = frame.pts * base if frame.pts is not None else float(i)
                out.append((t, _small(frame)))
                if len(out) == len(picked):
                    break
    return out


def _thumbnails(path: Path) -> list[np.ndarray[Any, Any]]:
    """16×16 greyscale thumbnails of every frame, for shot detection (a few hundred bytes each)."""
    import av

    thumbs: list[np.ndarray[Any, Any]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            small = frame.reformat(width=16, height=16, format="gray")
            thumbs.append(np.asarray(small.to_ndarray(), dtype=np.float32).reshape(16, -1)[:, :16])
    return thumbs


def _seek_sample(path: Path, n: int, duration: float) -> list[tuple[float, Image.Image]]:
    import av

    out: list[tuple[float, Image.Image]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base or 1)
        for t in np.linspace(0, duration, num=n, endpoint=False):
            target = int(t / base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is not None and frame.pts >= target:
                    out.append((frame.pts * base, _small(frame)))
                    break
    return out


def _scene_picks(thumbs: list[np.ndarray[Any, Any]], n: int) -> list[int]:
    """Indices: the first frame of each of the n-1 largest cuts, topped up uniformly."""
    stack = np.stack(thumbs)
    change = np.abs(np.diff(stack, axis=0)).mean(axis=(1, 2))
    cuts = (np.argsort(-change)[: max(n - 1, 0)] + 1).tolist() if len(change) else []
    picks = sorted({0, *cuts})
    for i in np.linspace(0, len(thumbs) - 1, num=n).round().astype(int):
        if len(picks) >= n:
            break
        if int(i) not in picks:
            picks.append(int(i))
    return sorted(picks)[:n]


def frame_at(path: Path, at: float) -> Image.Image:
    """The first frame at or after ``at`` seconds (the last one when ``at`` lies past the end):
    a keyframe for thumbnails."""
    import av

    last = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = float(stream.time_base or 1)
            target = int(max(at, 0.0) / base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                last = frame
                if frame.pts is None or frame.pts >= target:
                    break
    except (av.FFmpegError, ValueError, OSError, EOFError, IndexError) as e:
        raise DataError(f"video decoding failed ({type(e).__name__}: {e})") from None
    if last is None:
        raise DataError("no decodable frame")
    return _small(last)


def sample_frames(
    path: Path, probe: VideoProbe, n: int, sampling: str = "uniform"
) -> list[tuple[float, Image.Image]]:
    """``n`` frames as ``(time, image)``, each at most MAX_FRAME_SIDE pixels on its long side.

    Only the sampled frames are ever kept: memory is bounded by ``n`` small images whatever
    the clip's length or resolution. Long clips are sampled by seeking.
    """
    if sampling not in SAMPLINGS:
        raise DataError(f"video sampling must be one of {', '.join(SAMPLINGS)}, not {sampling!r}")
    import av

    try:
        if probe.frames > _DECODE_ALL_FRAMES and probe.duration:
            picked = _seek_sample(path, n, probe.duration)
        elif sampling == "scenes":
            thumbs = _thumbnails(path)
            picked = _decode_picked(path, set(_scene_picks(thumbs, n))) if thumbs else []
        else:
            # The container's frame count saves a decoding pass; count when it has none.
            count = probe.frames or len(_frame_times(path))
            idx = np.linspace(0, max(count - 1, 0), num=min(n, count)).round().astype(int)
            picked = _decode_picked(path, {int(i) for i in idx}) if count else []
    except (av.FFmpegError, ValueError, OSError, EOFError) as e:
        raise DataError(f"video decoding failed ({type(e).__name__}: {e})") from None
    if not picked:
        raise DataError("no decodable frame")
    return picked


def pool(frames: F32, how: str = "mean") -> F32:
    """One unit vector from ``[T, d]`` frame vectors."""
    if how == "mean":
        out = frames.mean(axis=0)
    elif how == "max":
        out = frames.max(axis=0)
    elif how == "attention":
        consensus = frames.mean(axis=0)
        logits = frames @ consensus * np.sqrt(frames.shape[1])
        weights = np.exp(logits - logits.max())
        out = (weights / weights.sum()) @ frames
    else:
        raise DataError(f"video pooling must be one of {', '.join(POOLINGS)}, not {how!r}")
    pooled: F32 = unit_rows(out[None, :])[0]
    return pooled


def encode_video(
    path: Path,
    encoder: Encoder,
    frames: int = 8,
    sampling: str = "uniform",
    pooling: str = "mean",
    segments: int = 0,
    batch_size: int = 32,
    probe: VideoProbe | None = None,
) -> VideoFeatures:
    """Sample ``frames`` frames, encode them with the image encoder, pool over time."""
    probe = probe or probe_video(path)
    picked = sample_frames(path, probe, frames, sampling)
    vectors = encoder.encode_images([im for _, im in picked], batch_size)
    seg = None
    if segments > 0:
        parts = np.array_split(vectors, min(segments, len(vectors)))
        seg = np.stack([pool(p, pooling) for p in parts])
    return VideoFeatures(
        probe=probe,
        vector=pool(vectors, pooling),
        segments=seg,
        sampled=len(picked),
        times=[round(t, 3) for t, _ in picked],
    )
