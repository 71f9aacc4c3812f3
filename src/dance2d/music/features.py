"""Frame-aligned music features: feature frame i is pose frame i, at time i/fps (paper §3, music tokens A)."""

from __future__ import annotations

import contextlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

from dance2d.errors import Dance2DError
from dance2d.music.audio import resample

HOP_LENGTH = 512  # samples per feature frame at the feature sample rate fps * HOP_LENGTH (FACT/EDGE)
N_MFCC = 20  # MFCC coefficients in the baseline recipe
N_CHROMA = 12  # pitch classes of the CENS chroma
_PITCH_CLASSES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")

FEATURE_NAMES: list[str] = [
    "onset_envelope",
    *[f"mfcc_{i:02d}" for i in range(N_MFCC)],
    *[f"chroma_cens_{p}" for p in _PITCH_CLASSES],
    "onset_peak",
    "beat",
]
FEATURE_DIM = len(FEATURE_NAMES)  # 35 = 1 + 20 + 12 + 1 + 1
ONEHOT_COLUMNS = (FEATURE_DIM - 2, FEATURE_DIM - 1)  # onset_peak, beat: 0/1 indicators


def frame_count(n_samples: int, sr: float, fps: float) -> int:
    """Number of pose/feature frames of a waveform: T = round(n_samples / sr * fps) (Python round)."""
    return int(round(n_samples / float(sr) * float(fps)))


def _check_inputs(wave: np.ndarray, sr: float, fps: float) -> np.ndarray:
    """Validate a mono waveform, its sample rate and the frame rate; return the waveform as float32."""
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise Dance2DError(f"Waveform of shape {wave.shape} is not mono; load it with load_audio() first.")
    if not (np.isfinite(sr) and sr > 0):
        raise Dance2DError(f"Sample rate {sr!r} is invalid; use a positive number such as 22050.")
    if not (np.isfinite(fps) and fps > 0):
        raise Dance2DError(f"Frame rate {fps!r} is invalid; use a positive fps such as 30.")
    if frame_count(wave.shape[0], sr, fps) < 1:
        raise Dance2DError(
            f"Waveform of {wave.shape[0]} samples at {sr} Hz is shorter than one frame at {fps} fps; "
            "use longer music."
        )
    wave = wave.astype(np.float32, copy=False)
    if not np.all(np.isfinite(wave)):
        raise Dance2DError("The waveform contains NaN or infinite samples; re-export it as ordinary audio.")
    return wave


def _fit_frames(feats: np.ndarray, n_frames: int, zero_cols: tuple[int, ...] = ()) -> np.ndarray:
    """Trim or pad (T0, D) features to exactly n_frames rows: edge-repeat, zeros for indicator columns."""
    if feats.shape[0] >= n_frames:
        return feats[:n_frames]
    pad = n_frames - feats.shape[0]
    tail = np.repeat(feats[-1:], pad, axis=0)  # (pad, D)
    tail[:, list(zero_cols)] = 0.0
    return np.concatenate([feats, tail], axis=0)


@contextlib.contextmanager
def _quiet_librosa():
    """Silence librosa warnings that are expected here and harmless."""
    with warnings.catch_warnings():
        # Clips shorter than the STFT window, and the CQT's heavily downsampled lowest octaves on short clips.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        # Silent input has no pitch to estimate the tuning from; librosa then uses 0 cents.
        warnings.filterwarnings("ignore", message="Trying to estimate tuning", category=UserWarning)
        yield


def strided_tempogram(env: np.ndarray, win: int, stride: int) -> np.ndarray:
    """librosa's autocorrelation tempogram (centred Hann windows, max-normalised) on every stride-th frame."""
    import librosa

    padded = np.pad(env, (win // 2, win // 2), mode="linear_ramp", end_values=(0, 0))
    frames = librosa.util.frame(padded, frame_length=win, hop_length=stride)[:, : -(-len(env) // stride)]
    window = scipy.signal.get_window("hann", win, fftbins=True)[:, None]  # (win, 1)
    ac = librosa.autocorrelate(frames * window, axis=0)  # (win, F / stride)
    return librosa.util.normalize(ac, norm=np.inf, axis=0)


def _shifted(x: np.ndarray, lo: int, hi: int, adv: int) -> np.ndarray:
    """Samples [lo, hi) of x advanced by adv samples (x[n + adv], zeros past the end)."""
    seg = x[lo + adv:hi + adv]
    if len(seg) < hi - lo:
        seg = np.concatenate([seg, np.zeros(hi - lo - len(seg), x.dtype)])
    return seg


def _cens(chroma: np.ndarray) -> np.ndarray:
    """The CENS steps of librosa.feature.chroma_cens after its CQT chroma (12, F): L1 norm, quantisation,
    41-frame Hann smoothing, L2 norm."""
    import librosa

    chroma = librosa.util.normalize(chroma, norm=1, axis=-2)
    quant = np.zeros_like(chroma)
    for step in (0.4, 0.2, 0.1, 0.05):
        quant += (chroma > step) * 0.25
    win = librosa.filters.get_window("hann", 41 + 2, fftbins=False)
    win /= np.sum(win)
    cens = scipy.ndimage.convolve(quant, win[None, :], mode="constant")
    return librosa.util.normalize(cens, norm=2, axis=-2)


@dataclass(frozen=True)
class Baseline35Config:
    """Settings of the FACT/EDGE 35-d recipe; onset_advance=0, beat_subdivision=1, beat_advance=0 and
    tempo_window_s=8 reproduce EDGE's columns (the defaults fix their alignment, see docs/music.md)."""

    hop_length: int = HOP_LENGTH  # samples per frame; the feature sample rate is fps * hop_length
    n_fft: int = 2048  # STFT window (samples) of the mel spectrogram behind the onset envelope and MFCC
    n_mels: int = 128  # mel bands of that spectrogram (librosa default)
    beat_tightness: float = 100.0  # librosa beat tracker tightness (EDGE uses 100)
    start_bpm: float = 120.0  # centre of the tempo prior of the beat tracker (librosa default)
    estimate_tuning: bool = True  # estimate the tuning offset before CENS (librosa default); False = 0 cents
    # Onset envelope/peaks: analyse the signal this many hops earlier so a sharp onset at time t is marked at
    # frame round(t * fps); librosa's envelope marks it ~0.8 frame late (0.0 reproduces FACT/EDGE exactly).
    onset_advance: float = 0.75
    # The beat tracker runs on an onset envelope this many times finer than the pose frames (hop / 4), so
    # its tempo is not quantised to whole pose frames; beats are then rounded to the nearest pose frame.
    beat_subdivision: int = 4
    beat_advance: float = 2.0  # like onset_advance, in fine hops, for the beat tracker's envelope (measured)
    tempo_window_s: float = 4.0  # autocorrelation window of the tempo estimate (librosa default 8 s)
    # Music longer than chunk_s is analysed in chunk_s pieces with margin_s of context on each side, so memory
    # stays flat however long the song (a 20-minute song took 1.9 GB in one piece); the frames equal the
    # one-piece analysis (up to float rounding: the CQT's resampling filters reach ~0.1 s across a seam).
    chunk_s: float = 60.0
    margin_s: float = 8.0


class MusicEncoder(ABC):
    """A music encoder ψ: waveform -> per-pose-frame features A (T, D) with T = round(duration · fps) (§3)."""

    feature_dim: int  # D, the width of one frame's features
    indicator_columns: tuple[int, ...] = ()  # columns holding 0/1 events (onset peaks, beats), not levels
    onset_column: int | None = None  # the onset-strength column, if any: tempo sync reads the song's pulse from it

    @abstractmethod
    def __call__(self, wave: np.ndarray, sr: float, fps: float) -> np.ndarray:
        """Encode a mono waveform at sr Hz into (T, feature_dim) float32 frames at fps."""


class Baseline35Encoder(MusicEncoder):
    """FACT/EDGE 35-d features: onset envelope, 20 MFCC, 12 chroma CENS, onset peaks, beats (§3)."""

    feature_dim = FEATURE_DIM
    indicator_columns = ONEHOT_COLUMNS
    onset_column = FEATURE_NAMES.index("onset_envelope")

    def __init__(self, config: Baseline35Config | None = None):
        self.config = config or Baseline35Config()

    def _onset(self, x: np.ndarray, feature_sr: float, hop: int, advance: float) -> np.ndarray:
        """Onset strength envelope (F,) with frames every hop samples: mean positive log-mel rise."""
        import librosa

        c = self.config
        adv = int(round(advance * hop))
        # librosa itself shifts the envelope by lag + n_fft // (2 hop) frames (its centring compensation).
        return librosa.onset.onset_strength(
            S=self._log_mel(x, feature_sr, hop, adv), sr=feature_sr, hop_length=hop, n_fft=c.n_fft
        )  # (F,)

    @_quiet_librosa()
    def onset_envelope(self, wave: np.ndarray, sr: float, fps: float) -> np.ndarray:
        """The onset-strength column (T,) of the features alone (no MFCC, chroma or beat tracking)."""
        c = self.config
        x, feature_sr, n_frames = self._resampled(wave, sr, fps)
        env = self._onset(x, feature_sr, c.hop_length, c.onset_advance)
        return _fit_frames(env[:, None].astype(np.float32), n_frames)[:, 0]

    def _log_mel(self, x: np.ndarray, feature_sr: float, hop: int, adv: int = 0) -> np.ndarray:
        """Log-mel spectrogram (n_mels, F) on centred frames: frame i is centred on sample i · hop (+ adv: the
        signal analysed adv samples earlier, zero-padded at the end). Long music is analysed in chunks."""
        import librosa

        c = self.config
        parts = []
        for a, b, lo, hi in self._chunks(len(x), hop, feature_sr, c.n_fft // 2):
            mel = librosa.feature.melspectrogram(
                y=_shifted(x, lo, hi, adv), sr=feature_sr, n_fft=c.n_fft, hop_length=hop, n_mels=c.n_mels
            )  # (n_mels, frames of the chunk), power
            k = a - lo // hop
            parts.append(librosa.power_to_db(mel[:, k:k + b - a], top_db=None))
        log_mel = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        # dB re 1, floored 80 dB below the peak of the whole song (librosa.power_to_db's top_db)
        return np.maximum(log_mel, log_mel.max() - 80.0, out=log_mel)  # (n_mels, F)

    def _chunks(self, n: int, hop: int, feature_sr: float, reach: int):
        """(first frame, end frame, first sample, end sample) of the pieces a long signal of n samples is analysed
        in: centred frames every hop samples, each piece with at least `reach` samples of real context (a frame's
        half window) beyond its frames, or the signal's own ends. One piece if the music is short."""
        c = self.config
        n_frames = 1 + n // hop
        size = max(1, int(c.chunk_s * feature_sr) // hop)
        if n_frames <= size + size // 2:
            yield 0, n_frames, 0, n
            return
        margin = -(-max(reach, int(c.margin_s * feature_sr)) // hop)  # frames
        for a in range(0, n_frames, size):
            b = min(n_frames, a + size)
            yield a, b, max(0, (a - margin) * hop), min(n, (b - 1 + margin) * hop + 1)

    def _chroma_cens(self, x: np.ndarray, feature_sr: float) -> np.ndarray:
        """librosa.feature.chroma_cens (12, F), with the CQT of long music computed in chunks."""
        import librosa

        c = self.config
        hop = c.hop_length
        chunks = list(self._chunks(len(x), hop, feature_sr, 0))
        if len(chunks) == 1:
            return librosa.feature.chroma_cens(
                y=x, sr=feature_sr, hop_length=hop, n_chroma=N_CHROMA, tuning=None if c.estimate_tuning else 0.0
            )
        tuning = self._tuning(x, feature_sr) if c.estimate_tuning else 0.0
        parts = []
        for a, b, lo, hi in chunks:
            chroma = librosa.feature.chroma_cqt(
                y=x[lo:hi], sr=feature_sr, hop_length=hop, n_chroma=N_CHROMA, tuning=tuning, norm=None,
                bins_per_octave=36, n_octaves=7,
            )
            k = a - lo // hop
            parts.append(chroma[:, k:k + b - a])
        return _cens(np.concatenate(parts, axis=1))

    def _tuning(self, x: np.ndarray, feature_sr: float) -> float:
        """librosa.estimate_tuning(y=x, bins_per_octave=36) (what chroma_cens uses), chunk by chunk."""
        import librosa

        n_fft, hop = 2048, 512  # piptrack's defaults
        pitches, mags = [], []
        for a, b, lo, hi in self._chunks(len(x), hop, feature_sr, n_fft // 2):
            pitch, mag = librosa.piptrack(y=x[lo:hi], sr=feature_sr, n_fft=n_fft, hop_length=hop)
            k = a - lo // hop
            pitch, mag = pitch[:, k:k + b - a], mag[:, k:k + b - a]
            keep = pitch > 0
            pitches.append(pitch[keep])
            mags.append(mag[keep])
        pitch, mag = np.concatenate(pitches), np.concatenate(mags)
        threshold = np.median(mag) if len(mag) else 0.0
        return float(librosa.pitch_tuning(pitch[mag >= threshold], resolution=0.01, bins_per_octave=36))

    def _beat_track(self, x: np.ndarray, feature_sr: float) -> tuple[float, np.ndarray]:
        """Tempo (BPM) and beat times (s) from the Ellis dynamic-programming tracker on a fine envelope."""
        import librosa

        c = self.config
        hop = c.hop_length // c.beat_subdivision
        env = self._onset(x, feature_sr, hop, c.beat_advance)  # (F·subdivision,)
        win = max(2, int(round(c.tempo_window_s * feature_sr / hop)))
        tg = strided_tempogram(env, win, stride=max(1, win // 16))  # (win, F / stride)
        tempo = librosa.feature.tempo(tg=tg, sr=feature_sr, hop_length=hop, start_bpm=c.start_bpm)  # (1,), BPM
        _, beats = librosa.beat.beat_track(
            onset_envelope=env, sr=feature_sr, hop_length=hop, bpm=tempo, tightness=c.beat_tightness
        )
        return float(tempo[0]), np.asarray(beats, dtype=np.float64) * hop / feature_sr

    def _resampled(self, wave: np.ndarray, sr: float, fps: float) -> tuple[np.ndarray, float, int]:
        """Validate, resample to the feature rate fps * hop, and return (x, feature_sr, T)."""
        wave = _check_inputs(wave, sr, fps)
        feature_sr = float(fps) * self.config.hop_length
        return resample(wave, float(sr), feature_sr), feature_sr, frame_count(wave.shape[0], sr, fps)

    @_quiet_librosa()
    def __call__(self, wave: np.ndarray, sr: float, fps: float, progress=None) -> np.ndarray:
        """Encode a mono waveform into (T, 35) float32 baseline features, frame i centred at time i/fps.

        progress(done, total), if given, is called after each of the five stages."""
        import librosa

        def step(done: int) -> None:
            if progress is not None:
                progress(done, 5)

        c = self.config
        x, feature_sr, n_frames = self._resampled(wave, sr, fps)
        step(1)
        env = self._onset(x, feature_sr, c.hop_length, c.onset_advance)  # (F,)
        log_mel = self._log_mel(x, feature_sr, c.hop_length)  # (n_mels, F)
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)  # (20, F), DCT-II ortho of the log-mel
        step(2)
        chroma = self._chroma_cens(x, feature_sr)  # (12, F')
        step(3)
        peaks = librosa.onset.onset_detect(onset_envelope=env, sr=feature_sr, hop_length=c.hop_length)
        _, times = self._beat_track(x, feature_sr)
        step(4)
        beats = np.round(times * fps).astype(np.int64)  # nearest pose frame of each beat
        n0 = min(env.shape[0], mfcc.shape[1], chroma.shape[1])
        peak_onehot = np.zeros(n0, np.float32)
        peak_onehot[peaks[peaks < n0]] = 1.0
        beat_onehot = np.zeros(n0, np.float32)
        beat_onehot[beats[beats < n0]] = 1.0
        feats = np.concatenate(
            [env[:n0, None], mfcc[:, :n0].T, chroma[:, :n0].T, peak_onehot[:, None], beat_onehot[:, None]],
            axis=1,
        ).astype(np.float32)  # (F, 35)
        step(5)
        return _fit_frames(feats, n_frames, ONEHOT_COLUMNS)  # (T, 35)

    @_quiet_librosa()
    def beats(self, wave: np.ndarray, sr: float, fps: float) -> tuple[float, np.ndarray]:
        """Tempo (BPM) and beat times in seconds (before rounding to frames) of the beat-column tracker."""
        x, feature_sr, n_frames = self._resampled(wave, sr, fps)
        tempo, times = self._beat_track(x, feature_sr)
        return tempo, times[np.round(times * fps) < n_frames]


_ENCODERS: dict[str, Callable[[], MusicEncoder]] = {"baseline35": Baseline35Encoder}


def register_music_encoder(name: str, factory: Callable[[], MusicEncoder]) -> None:
    """Make a music encoder available to get_music_encoder(name) (e.g. a Jukebox or MERT wrapper)."""
    _ENCODERS[name] = factory


def available_music_encoders() -> list[str]:
    """Names accepted by get_music_encoder."""
    return sorted(_ENCODERS)


def get_music_encoder(name: str = "baseline35") -> MusicEncoder:
    """Build a registered music encoder by name."""
    if name not in _ENCODERS:
        raise Dance2DError(
            f"Unknown music encoder {name!r}; choose one of {', '.join(available_music_encoders())}."
        )
    return _ENCODERS[name]()


def extract_features(wave: np.ndarray, sr: float, fps: float) -> np.ndarray:
    """Baseline 35-d features (T, 35) float32 with T = round(len(wave) / sr * fps); row i is time i/fps."""
    return Baseline35Encoder()(wave, sr, fps)


def beat_times(wave: np.ndarray, sr: float, fps: float) -> np.ndarray:
    """Beat times in seconds; the feature 'beat' column marks frame round(t · fps) of each."""
    _, times = Baseline35Encoder().beats(wave, sr, fps)
    return times
