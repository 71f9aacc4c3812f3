"""What the music tells the dance besides the model's own response: its tempo (tempo sync) and its loudness.

Tempo sync: the model dances every song as if it played at the model's home tempo.

A model trained on a few dance styles learns their typical step rate and keeps it whatever the music's tempo
(docs/RESULTS.md: the same excerpt at 96 and 150 BPM gave the same step rate). Tempo sync plays the music features
to the model at its home tempo (the median tempo of its training music, `DataConfig.home_tempo`) and plays the
dance back at the song's tempo: model frame j is song time j / (rate · fps) with rate = song tempo / home tempo,
so a song twice as fast gets steps twice as often, and the beats the model hears land on the song's beats.
The song's tempo and beats come from its onset envelope (`pulse`), at the octave where dancers step.
Within each beat the playback pace dips on the beat and rises between beats (`playback_positions`), so the
dancer's movement slows into every beat, as dancers accent it.

Loudness: `frame_db` measures the song's level per frame and `loudness_db` takes it relative to the song's typical
level, which sets how big the dancer's movements are (pose/dynamics.py): a quiet verse calmer, a loud chorus bigger.
`silent_spans` finds in the same levels where the music falls silent, and the dancer rests (pose/sequence.py).
"""

from __future__ import annotations

import numpy as np

from dance2d.errors import Dance2DError

MAX_RATE = 2.25  # the dance is played at most this much faster (or 1/MAX_RATE slower) than the model made it: every
# tempo of TEMPO_RANGE keeps its proportion for home tempi of 69 BPM and up (calibrated ones: calibrate.py)
BEAT_ACCENT = 0.7  # within each beat the playback pace dips to 1 − this on the beat and rises to 1 + this between
# (for a model without its own: a checkpoint's generation.beat_accent, 0.5 for the smoothed raw model)
TEMPO_RANGE = (78.0, 156.0)  # BPM dancers step to: a song's tempo is taken at the octave inside this range. Its edges
# sit where few dance tempi are (waltz 84-90, rumba 96-108, cha-cha and tango 120-132, house and techno 120-140;
# Viennese waltz, jive and drum & bass 168-176 fold to 84-88); docs/decisions.md "Which tempo"
TEMPO_WINDOW_S = 8.0  # autocorrelation window of the tempogram (or the whole music when shorter)
MIN_PULSE_S = 3.0  # music shorter than this has no tempo to follow
TEMPO_CANDIDATES = 240  # tempi tried, evenly on a log scale over TEMPO_RANGE (0.3 % apart)
GRID_PER_OCTAVE = 48  # log-tempo grid the tempogram is read on
BASELINE_OCTAVES = 1.0  # a periodicity counts by how far it rises above the median over this span around it
LEVEL_PRIOR_BPM, LEVEL_PRIOR_OCTAVES = 120.0, 1.5  # metrical levels near 120 BPM count most (log-normal weight)
OCTAVES = range(-4, 5)  # the metrical levels c · 2^k that make up the score of a tempo c


def pulse_tempo(onset: np.ndarray, fps: float) -> float | None:
    """Tempo in BPM inside TEMPO_RANGE of a song from its onset-strength envelope (T,) at fps; None when it has no
    pulse to follow (silent, or shorter than MIN_PULSE_S).

    The tempo is the one whose octaves (c · 2^k) together carry the most periodicity in the envelope's tempogram,
    each counted by how far it rises above the tempogram's level around it (a smooth envelope correlates with itself
    at every short lag, which is no tempo) and weighted towards levels near 120 BPM. A tempo and its double thus score
    alike, so the estimate does not depend on which metrical level a tracker would lock onto, the same excerpt played
    faster gets a proportionally faster tempo, and the octave is TEMPO_RANGE's (docs/decisions.md "Which tempo")."""
    from scipy.ndimage import median_filter

    from dance2d.music.features import strided_tempogram

    env = np.nan_to_num(np.asarray(onset, np.float64))
    if len(env) < MIN_PULSE_S * fps or not np.any(env > 0):
        return None
    win = min(int(round(TEMPO_WINDOW_S * fps)), len(env))
    strength = strided_tempogram(env, win, max(1, win // 16)).mean(1)  # (win,) by lag in frames
    lag = np.arange(1, win)
    octave, s = np.log2(60.0 * fps / lag)[::-1], strength[1:][::-1]  # ascending log2 tempo
    grid = np.arange(octave[0], octave[-1], 1.0 / GRID_PER_OCTAVE)
    level = np.interp(grid, octave, s)
    rise = np.maximum(level - median_filter(level, size=int(GRID_PER_OCTAVE * BASELINE_OCTAVES) | 1,
                                            mode="nearest"), 0.0)
    lo = np.log2(TEMPO_RANGE[0])
    candidates = lo + np.arange(TEMPO_CANDIDATES) / TEMPO_CANDIDATES * np.log2(TEMPO_RANGE[1] / TEMPO_RANGE[0])
    score = sum(np.exp(-0.5 * ((candidates + k - np.log2(LEVEL_PRIOR_BPM)) / LEVEL_PRIOR_OCTAVES) ** 2)
                * np.interp(candidates + k, grid, rise, left=0.0, right=0.0) for k in OCTAVES)
    return float(2.0 ** candidates[np.argmax(score)])


def tempo_bpm(wave: np.ndarray, sr: float, fps: float = 30.0) -> float | None:
    """The tempo (BPM) dance2d dances a waveform at: `pulse_tempo` of its onset envelope; None without a pulse."""
    from dance2d.music.features import Baseline35Encoder

    return pulse_tempo(Baseline35Encoder().onset_envelope(wave, sr, fps), fps)


def pulse(onset: np.ndarray, fps: float, bpm: float | None = None) -> tuple[float | None, np.ndarray | None]:
    """(tempo in BPM, beat frames) of a song's onset-strength envelope (T,) at fps: `pulse_tempo` (or `bpm`, a tempo
    the user states), and the beats librosa's dynamic-programming tracker finds at that tempo; (None, None) without
    a pulse, (bpm, None) with a stated tempo but under three beats."""
    import librosa

    tempo = pulse_tempo(onset, fps) if bpm is None else float(bpm)
    if tempo is None:
        return None, None
    env = np.nan_to_num(np.asarray(onset, np.float64))
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=fps, hop_length=1, bpm=tempo, tightness=100.0)
    return (tempo, np.asarray(beats, np.float64)) if len(beats) >= 3 else (bpm, None)


def sync_rate(music_bpm: float | None, home_bpm: float | None) -> float:
    """How much faster the song is than the model's home tempo, bounded to [1/MAX_RATE, MAX_RATE]; 1 when either
    tempo is unknown (no beat found, or a checkpoint without a home tempo)."""
    if not music_bpm or not home_bpm:
        return 1.0
    return float(np.clip(music_bpm / home_bpm, 1.0 / MAX_RATE, MAX_RATE))


def playback_positions(n: int, rate: float, beats: np.ndarray, accent: float = BEAT_ACCENT) -> np.ndarray:
    """Model-frame position (n,) of each song frame: rate × frame on average; between two of the song's beats
    (frame indices, ascending) the pace follows rate·(1 − accent·cos 2π·phase), slowest on the beat, so the dancer
    hits each beat the way dancers accent it. Outside the first and last beat the pace is even."""
    pace = np.full(n, float(rate))
    beats = np.asarray(beats, np.float64)
    if accent > 0 and len(beats) >= 2:
        t = np.arange(n, dtype=np.float64)
        inside = (t >= beats[0]) & (t < beats[-1])
        phase = np.interp(t, beats, np.arange(len(beats))) % 1.0
        pace = np.where(inside, pace * (1 - accent * np.cos(2 * np.pi * phase)), pace)
    return np.concatenate([[0.0], np.cumsum(pace[:-1])])


def warp_features(feats: np.ndarray, rate: float, n_out: int, indicators: tuple[int, ...] = ()) -> np.ndarray:
    """Song-time features (T, D) → n_out model frames, model frame j = song frame j / rate.

    Continuous columns are interpolated linearly (low-passed first when rate < 1 drops frames); indicator columns
    (onset peaks, beats) move each event to the nearest model frame. Frames past the song's end repeat its last
    frame (indicators 0)."""
    if not (np.isfinite(rate) and rate > 0):
        raise Dance2DError(f"Tempo rate {rate!r} is invalid; it must be a positive number.")
    feats = np.asarray(feats, np.float32)
    if rate == 1.0 and len(feats) >= n_out:
        return feats[:n_out].copy()
    cont = [c for c in range(feats.shape[1]) if c not in indicators]
    src = feats[:, cont]
    if rate < 1.0:  # fewer model frames than song frames: anti-alias
        from scipy.ndimage import gaussian_filter1d

        src = gaussian_filter1d(src, 0.5 * (1.0 / rate - 1.0), axis=0, mode="nearest")
    pos = np.minimum(np.arange(n_out) / rate, len(feats) - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(feats) - 1)
    a = (pos - i0)[:, None].astype(np.float32)
    out = np.zeros((n_out, feats.shape[1]), np.float32)
    out[:, cont] = (1 - a) * src[i0] + a * src[i1]
    for c in indicators:
        events = np.round(np.flatnonzero(feats[:, c] > 0.5) * rate).astype(int)
        out[events[events < n_out], c] = 1.0
    return out


SILENCE_DB = -60.0  # frames quieter than this (dB re full scale RMS) are silence: not part of the typical level
LOUDNESS_SMOOTHING_S = 0.5  # std (s) of the Gaussian that turns per-frame RMS into a level one can dance to
REST_MIN_S = 1.0  # a silence at least this long is a rest: the dancer stops and stands (pose/sequence.py)
REST_BELOW_DB = 40.0  # a frame this far below the music's typical level (or under SILENCE_DB) is silent
REST_CONTEXT = 2  # ... and so must be the frames this close to it: a click or a drum hit ends a rest


def frame_db(wave: np.ndarray, sr: float, fps: float, n_frames: int) -> np.ndarray:
    """Level (n_frames,) in dB re full scale of each frame's RMS without its DC offset; frames past the end of the
    wave are silence (−120 dB)."""
    width = max(1, int(round(float(sr) / float(fps))))  # samples per frame
    wave = np.asarray(wave, np.float32)
    full = min(n_frames, len(wave) // width)
    frames = wave[:full * width].reshape(full, width)  # a view: no copy of a long song
    ms = np.zeros(n_frames)
    ms[:full] = np.einsum("ij,ij->i", frames, frames) / width - frames.mean(1, dtype=np.float64) ** 2  # no DC
    return 10.0 * np.log10(np.maximum(ms, 1e-12))


def _typical(db: np.ndarray) -> float | None:
    """The music's typical level: the median of frame levels (frame_db) over its non-silent frames; None if silent."""
    sound = db > SILENCE_DB
    return float(np.median(db[sound])) if sound.any() else None


def loudness_db(db: np.ndarray, fps: float) -> np.ndarray:
    """Level per frame relative to the music's typical level, from frame levels (frame_db), smoothed over
    LOUDNESS_SMOOTHING_S: 0 at the typical level, +6 twice as loud, −6 half. All zeros for silent music."""
    from scipy.ndimage import gaussian_filter1d

    typical = _typical(db)
    if typical is None:
        return np.zeros(len(db), np.float32)
    return gaussian_filter1d(np.maximum(db, SILENCE_DB) - typical, LOUDNESS_SMOOTHING_S * fps,
                             mode="nearest").astype(np.float32)


def silent_spans(db: np.ndarray, fps: float, min_s: float = REST_MIN_S) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of the music's rests, from frame levels (frame_db): at least min_s seconds in which
    every frame, and every frame within REST_CONTEXT of it, is under SILENCE_DB or REST_BELOW_DB below the music's
    typical level (a silent intro, a break, the silence after the last note). No span in music that never falls
    silent, nor in music that is silent throughout (there is no dance to rest from)."""
    from scipy.ndimage import minimum_filter1d

    typical = _typical(db)
    if typical is None:
        return []
    quiet = db < max(SILENCE_DB, typical - REST_BELOW_DB)
    quiet = minimum_filter1d(quiet.astype(np.uint8), 2 * REST_CONTEXT + 1, mode="nearest") > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    need = max(1, int(round(min_s * fps)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= need]
