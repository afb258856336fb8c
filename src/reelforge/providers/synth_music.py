"""Offline background music: a soft, never-looping bed to sit under narration.

Everything is synthesised at 16 kHz (pads and plucks are low-passed far below
8 kHz, so nothing is lost) and upsampled once to 48 kHz with a polyphase FIR,
which keeps a 10-minute bed to a few seconds of numpy. Chords come from a
seeded random walk over diatonic chords, voicings and timbre drift with a slow
"intensity" curve, and plucks, bells and arpeggio patterns are drawn afresh for
every chord, so no stretch of the piece is ever a copy of another.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import MusicMood

F32 = NDArray[np.float32]
OUT_RATE = 48_000
RATE = 16_000
UP = OUT_RATE // RATE
TABLE_BITS = 13
UPSAMPLE_TAPS = 40
"""Input taps per polyphase branch (even, so the filter delay is a whole input sample)."""
CHUNK = 1 << 15
PEAK_DBFS = -3.0
FADE_IN_S, FADE_OUT_S = 1.5, 2.0
MIN_DURATION_S, MAX_DURATION_S = 1.0, 600.0
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
LYDIAN = (0, 2, 4, 6, 7, 9, 11)
# Preference for root motion by scale steps (index = steps up mod 7): fourths and
# fifths most, thirds next, seconds rarely; "0" re-voices the same chord.
_MOTION = np.array([0.5, 0.6, 1.0, 1.6, 1.4, 1.3, 0.6])


@dataclass(frozen=True, slots=True)
class _Style:
    scale: tuple[int, ...]
    degrees: tuple[int, ...]
    """Scale degrees whose triads are used (diminished ones are left out)."""
    bpm: float
    beats: tuple[int, ...]
    """Chord lengths in beats to draw from."""
    extend: float
    """Chance a chord gets a 7th or an added 9th."""
    center: int
    """MIDI note the pad voicing is centred on."""
    cutoff: float
    saw: float
    """Pad timbre: 0 = pure sine, 1 = full sawtooth."""
    detune: float
    xfade: float
    bells: float = 0.0
    """Mean number of soft bell notes per chord."""
    arpeggio: bool = False
    strings: bool = False
    reverb_s: float = 3.0
    wet: float = 0.35


# fmt: off
_STYLES = {
    MusicMood.CALM: _Style(MAJOR, (0, 1, 2, 3, 4, 5), bpm=68, beats=(8, 8, 4, 12), extend=0.35,
                           center=62, cutoff=1100, saw=0.5, detune=7, xfade=2.5, bells=0.8),
    MusicMood.UPBEAT: _Style(MAJOR, (0, 1, 3, 4, 5), bpm=100, beats=(4, 4, 8), extend=0.2,
                             center=64, cutoff=1500, saw=0.7, detune=9, xfade=0.8,
                             arpeggio=True, reverb_s=2.0, wet=0.25),
    MusicMood.DRAMATIC: _Style(MINOR, (0, 2, 3, 4, 5, 6), bpm=60, beats=(4, 8, 8, 12), extend=0.15,
                               center=57, cutoff=800, saw=0.9, detune=6, xfade=3.0,
                               strings=True, reverb_s=3.5, wet=0.4),
    MusicMood.DREAMY: _Style(LYDIAN, (0, 1, 2, 4, 5, 6), bpm=56, beats=(8, 12, 12), extend=0.6,
                             center=66, cutoff=1300, saw=0.3, detune=12, xfade=4.0,
                             bells=1.5, reverb_s=4.0, wet=0.5),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class _Chord:
    start: float
    end: float
    tones: tuple[int, ...]
    """MIDI notes of the pad voicing, lowest first."""
    root: int
    """Pitch (any octave) of the chord's root, for the bass."""
    glow: float
    """Slow intensity in [-1, 1]: brightens and lifts the voicing."""


def _freq(midi: float) -> float:
    return 440.0 * float(np.exp2((midi - 69.0) / 12.0))


@lru_cache(maxsize=512)
def _table(midi: int, cutoff_hz: float, saw: float) -> F32:
    """One cycle of a band-limited, low-passed saw/sine blend at unit RMS for note `midi`.

    Harmonics are cut below 0.45 * RATE so detuned copies cannot alias; the
    2nd-order roll-off stands in for a low-pass filter at no per-sample cost.
    """
    f0 = _freq(midi)
    k = np.arange(1, max(2, int(0.45 * RATE / f0)) + 1)
    amps = (saw / k + (1.0 - saw) * (k == 1)) / np.sqrt(1.0 + (k * f0 / cutoff_hz) ** 4)
    spectrum = np.zeros(2 ** (TABLE_BITS - 1) + 1, np.complex128)
    spectrum[k] = -1j * amps / np.sqrt(np.sum(amps**2)) * 2 ** (TABLE_BITS - 1) * np.sqrt(2.0)
    table = np.fft.irfft(spectrum, 2**TABLE_BITS).astype(np.float32)
    table.flags.writeable = False
    return table


def _osc(table: F32, hz: float, s0: int, n: int, phase: int) -> F32:
    """Samples [s0, s0 + n) of `table` played at `hz`: a 32-bit phase accumulator that wraps
    for free, its top bits indexing the table."""
    inc = np.uint32(round(hz / RATE * 2**32) % 2**32)
    idx = np.arange(s0, s0 + n, dtype=np.uint32) * inc + np.uint32(phase)
    samples: F32 = table[idx >> np.uint32(32 - TABLE_BITS)]
    return samples


def _rise(x: NDArray[np.floating[Any]]) -> F32:
    """0 → 1 as `x` goes 0 → 1, smooth at both ends (sin²)."""
    curve: F32 = (np.sin(np.clip(x, 0.0, 1.0) * (np.pi / 2)) ** 2).astype(np.float32, copy=False)
    return curve


def _span(a: float, b: float, ramp: float, n: int) -> tuple[int, F32, F32]:
    """First sample, times and sin² rise/fall envelope of a sound over [a, b) in a piece of
    `n` samples; overlapping rises and falls of consecutive chords sum to one."""
    s0, s1 = max(0, round(a * RATE)), min(n, round(b * RATE))
    t = (np.arange(s0, max(s0, s1)) / RATE).astype(np.float32)
    return s0, t, _rise(np.minimum((t - a) / ramp, (b - t) / ramp))


def _progression(style: _Style, rng: np.random.Generator, total_s: float) -> list[_Chord]:
    """Chords as a seeded Markov walk over diatonic triads; every few minutes the key moves a
    fourth or a fifth, so even a 10-minute bed keeps travelling."""
    beat = 60.0 / style.bpm
    tonic, degree, glow, t = int(rng.integers(0, 12)), 0, 0.0, 0.0
    until_modulation = int(rng.integers(16, 32))
    allowed = np.isin(np.arange(7), style.degrees)
    chords: list[_Chord] = []
    while t < total_s + style.xfade:
        steps = [0, 2, 4]
        if rng.random() < style.extend:
            steps.append(int(rng.choice([6, 8])))
        pcs = [tonic + style.scale[(degree + s) % 7] for s in steps]
        low = style.center - 6 + round(2 * glow) + int(rng.integers(-2, 3))
        tones = tuple(sorted(low + (pc - low) % 12 for pc in pcs))
        if chords and tones == chords[-1].tones:  # a re-voiced chord must move
            low += 5 if low < style.center - 6 else -5
            tones = tuple(sorted(low + (pc - low) % 12 for pc in pcs))
        dur = beat * float(rng.choice(style.beats))
        chords.append(_Chord(t, t + dur, tones, pcs[0], glow))
        t += dur
        glow = float(np.clip(0.8 * glow + 0.35 * rng.standard_normal(), -1.0, 1.0))
        weights = _MOTION[(np.arange(7) - degree) % 7] * allowed * (1 + 0.4 * (np.arange(7) == 0))
        degree = int(rng.choice(7, p=weights / weights.sum()))
        until_modulation -= 1
        if until_modulation == 0:
            tonic = (tonic + int(rng.choice([5, 7]))) % 12
            degree, until_modulation = 0, int(rng.integers(16, 32))
    return chords


class _Bed:
    """The dry stereo mix at RATE under construction, and what all its layers share."""

    def __init__(self, style: _Style, rng: np.random.Generator, n: int) -> None:
        self.style, self.rng, self.beat = style, rng, 60.0 / style.bpm
        self.mix = np.zeros((2, n), np.float32)
        self.phases: dict[tuple[str, float], int] = {}
        self.lfos = [
            (0.6 * side, rng.uniform(17, 31), rng.uniform(0, 2 * np.pi)) for side in (-1, 0, 1)
        ]

    def add(self, s0: int, sig: F32, pan: float | F32) -> None:
        """Mix `sig` in at sample `s0` with constant-power panning (-1 left … 1 right)."""
        angle = (np.asarray(pan, np.float32) + 1.0) * np.float32(np.pi / 4)
        s1 = min(self.mix.shape[1], s0 + len(sig))
        self.mix[0, s0:s1] += (sig * np.cos(angle))[: s1 - s0]
        self.mix[1, s0:s1] += (sig * np.sin(angle))[: s1 - s0]

    def tone(
        self, layer: str, midi: int, cents: float, timbre: tuple[float, float], s0: int, n: int
    ) -> F32:
        """A sustained tone whose phase is fixed per (layer, pitch) for the whole piece: a note
        carried into the next chord stays coherent, so the crossfade holds it steady."""
        hz = _freq(midi + cents / 100)
        if (layer, hz) not in self.phases:
            self.phases[layer, hz] = int(self.rng.integers(0, 2**32))
        return _osc(_table(midi, *timbre), hz, s0, n, self.phases[layer, hz])

    def pluck(self, midi: int, at_s: float, decay_s: float, gain: float, pan: float) -> None:
        """A soft plucked or bell-like note, duller the lower it is; its attack lasts a few
        cycles, so a bass note does not thump and a high one still speaks."""
        s0, n, hz = round(at_s * RATE), int(5 * decay_s * RATE), _freq(midi)
        if s0 >= self.mix.shape[1]:
            return
        t = np.arange(n, dtype=np.float32) / RATE
        env = (1 - np.exp(-t * np.float32(hz / 2.5))) * np.exp(-t / np.float32(decay_s))
        table = _table(midi, min(2500.0, 5 * hz), 0.3)
        sig = _osc(table, hz, s0, n, int(self.rng.integers(0, 2**32)))
        self.add(s0, sig * env * np.float32(gain), pan)

    def pad(self, chord: _Chord) -> None:
        """Three detuned layers of the chord, each drifting slowly across the stereo field."""
        xf = self.style.xfade
        s0, t, env = _span(chord.start - xf / 2, chord.end + xf / 2, xf, self.mix.shape[1])
        timbre = (self.style.cutoff * 2.0 ** (0.6 * chord.glow), self.style.saw)
        cents = self.style.detune
        for detune, (pan0, period, phase) in zip((-cents, 0.0, cents), self.lfos, strict=True):
            sig = sum(self.tone("pad", m, detune, timbre, s0, len(t)) for m in chord.tones)
            pan = pan0 + 0.35 * np.sin(np.float32(2 * np.pi / period) * t + np.float32(phase))
            self.add(s0, sig * env * np.float32(0.15), pan)

    def bass(self, chord: _Chord) -> None:
        """The root, low: held under calm moods, a light pulse on most beats when upbeat."""
        root = 36 + (chord.root - 36) % 12
        if self.style.arpeggio:
            beats = self.rng.random(round((chord.end - chord.start) / self.beat)) < 0.7
            for b in np.flatnonzero(beats | (np.arange(len(beats)) == 0)):
                self.pluck(root, chord.start + b * self.beat, 0.35, 0.3, 0.0)
            return
        xf = self.style.xfade / 2
        s0, t, env = _span(chord.start - xf / 2, chord.end + xf / 2, xf, self.mix.shape[1])
        self.add(s0, self.tone("bass", root, 0, (300.0, 0.15), s0, len(t)) * env * 0.35, 0.0)

    def strings(self, chord: _Chord) -> None:
        """Two low string-like chord tones, a pair of detuned saws each, swelling and ebbing
        once per chord; which tones and when the swell peaks change every time."""
        end = chord.end + self.style.xfade
        s0, t, _ = _span(chord.start, end, 1.0, self.mix.shape[1])
        u = (t - np.float32(chord.start)) / np.float32(end - chord.start)
        swell = np.sin(np.float32(np.pi) * u ** np.float32(self.rng.uniform(0.6, 1.4))) ** 2
        pair = self.rng.choice(chord.tones, 2, replace=False)
        for pc, pan in zip(pair, (-0.5, 0.5), strict=True):
            m = 45 + (int(pc) - 45) % 12
            for cents in (-5.0, 5.0):
                sig = self.tone("strings", m, cents, (700.0, 1.0), s0, len(t))
                self.add(s0, sig * swell * np.float32(0.25), pan + cents / 20)

    def arpeggio(self, chord: _Chord) -> None:
        """Eighth notes over two octaves of the chord: rising, rising-falling or a melodic walk."""
        tones, step = [*chord.tones, *(m + 12 for m in chord.tones)], self.beat / 2
        count, span = round((chord.end - chord.start) / step), 2 * len(tones) - 2
        kind = self.rng.integers(0, 3)
        if kind == 0:
            order = np.arange(count) % len(tones)
        elif kind == 1:
            order = np.arange(count) % span
        else:
            order = np.cumsum(self.rng.choice([-2, -1, 1, 2], count)) % span
        order = np.minimum(order, span - order)  # fold back down at the top
        for i in np.flatnonzero(self.rng.random(count) > 0.2):
            gain = self.rng.uniform(0.12, 0.2) * (0.75 if i % 2 else 1.0)
            self.pluck(tones[order[i]], chord.start + i * step, 0.25, gain, 0.3 if i % 2 else -0.3)

    def bells(self, chord: _Chord) -> None:
        """A few soft, high chord tones on random eighth notes."""
        eighths = round((chord.end - chord.start) / self.beat * 2)
        for _ in range(self.rng.poisson(self.style.bells)):
            m = 72 + (int(self.rng.choice(chord.tones)) - 72) % 12
            at = chord.start + self.beat / 2 * int(self.rng.integers(0, eighths))
            self.pluck(m, at, 1.2, self.rng.uniform(0.1, 0.2), self.rng.uniform(-0.6, 0.6))


def _render(style: _Style, rng: np.random.Generator, n: int) -> F32:
    """The dry stereo mix at RATE: pad and bass, then the mood's own layers."""
    bed = _Bed(style, rng, n)
    for chord in _progression(style, rng, n / RATE):
        bed.pad(chord)
        bed.bass(chord)
        if style.strings:
            bed.strings(chord)
        if style.arpeggio and chord.glow > -0.5:  # quieter stretches let it breathe
            bed.arpeggio(chord)
        bed.bells(chord)
    return bed.mix


def _reverb(mix: F32, style: _Style, rng: np.random.Generator) -> None:
    """Add diffuse stereo reverb in place: the mono mix convolved (FFT, overlap-add) with two
    decorrelated, exponentially decaying noise bursts, band-passed: a dark tail is calm,
    and keeping the bass out of it stops single low tones from swelling or vanishing
    with the fine random ripple of the noise's frequency response."""
    m = int(style.reverb_s * RATE)
    predelay = np.zeros((2, int(0.02 * RATE)))
    noise = np.fft.rfft(rng.standard_normal((2, m)))
    f = np.fft.rfftfreq(m, 1 / RATE)
    noise *= f**2 / (f**2 + 250.0**2) / (1.0 + (f / 2500.0) ** 2)
    ir = np.fft.irfft(noise, m) * np.exp(-6.9 * np.arange(m) / m)
    ir = np.concatenate([predelay, ir / np.sqrt(np.sum(ir**2, axis=1, keepdims=True))], axis=1)
    nfft = 1 << int(np.ceil(np.log2(2 * ir.shape[1])))
    block, spectrum = nfft - ir.shape[1] + 1, np.fft.rfft(ir, nfft) * style.wet
    mono = mix.mean(axis=0)
    for s in range(0, mix.shape[1], block):
        wet = np.fft.irfft(np.fft.rfft(mono[s : s + block], nfft) * spectrum, nfft)
        e = min(mix.shape[1], s + nfft)
        mix[:, s:e] += wet[:, : e - s].astype(np.float32)


def _fade(mix: F32, duration_s: float) -> None:
    """Fade in and out in place, touching only the samples that change."""
    n = mix.shape[1]
    head = min(n, int(FADE_IN_S * RATE))
    mix[:, :head] *= _rise(np.arange(head, dtype=np.float32) / np.float32(FADE_IN_S * RATE))
    tail = max(0, int((duration_s - FADE_OUT_S) * RATE))
    t = np.arange(tail, n, dtype=np.float32) / RATE
    mix[:, tail:] *= _rise((duration_s - t) / np.float32(FADE_OUT_S))


def _upsampler() -> F32:
    """Polyphase branches (taps x UP) of a Kaiser-windowed sinc low-pass at 7 kHz, each branch
    summing to 1 so DC and steady tones pass without a 16 kHz image."""
    j = np.arange(UP * UPSAMPLE_TAPS + 1) - UP * UPSAMPLE_TAPS / 2
    proto = np.sinc(2 * 7000.0 / OUT_RATE * j) * np.kaiser(len(j), 8.0)
    full = np.zeros(UP * (UPSAMPLE_TAPS + 1))
    full[: len(j)] = proto
    branches = full.reshape(UPSAMPLE_TAPS + 1, UP)[::-1]
    taps: F32 = (branches / branches.sum(axis=0)).astype(np.float32)
    return taps


def _upsampled(mix: F32, taps: F32, start: int) -> F32:
    """Output frames (UP * CHUNK, 2) for input samples [start, start + CHUNK), delay-free.

    Each polyphase branch is one OpenCV row filter over the chunk (SIMD in native code):
    numpy's matmul over a sliding window view of the same sum took 20x as long."""
    half, n = UPSAMPLE_TAPS // 2, mix.shape[1]
    seg = np.zeros((2, CHUNK + UPSAMPLE_TAPS), np.float32)
    lo, hi = max(0, start - half), min(n, start + CHUNK + half)
    seg[:, lo - (start - half) : hi - (start - half)] = mix[:, lo:hi]
    branches = np.empty((2, CHUNK, UP), np.float32)
    for phase in range(UP):
        row = cv2.filter2D(seg, -1, taps[None, :, phase], borderType=cv2.BORDER_CONSTANT)
        branches[:, :, phase] = row[:, half : half + CHUNK]
    frames: F32 = branches.reshape(2, -1).T
    return frames


class SynthMusic:
    """Procedural music bed: needs no files, models or network, and never repeats itself."""

    id = "synth"
    version = "1"

    def compose(self, mood: MusicMood, duration_s: float, seed: int, out: Path) -> None:
        if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
            limits = f"{MIN_DURATION_S:g}-{MAX_DURATION_S:g} s"
            raise InvalidInput(f"music lasts {limits}, not {duration_s:g} s", stage="music")
        frames = round(duration_s * OUT_RATE)
        n = -(-frames // UP)
        style, rng = _STYLES[mood], np.random.default_rng(seed)
        mix = _render(style, rng, n)
        _reverb(mix, style, rng)
        mix -= mix.mean(axis=1, keepdims=True)
        _fade(mix, frames / OUT_RATE)
        taps = _upsampler()
        # Two passes over the cheap upsampler: the peak first, then the samples, so the
        # full 48 kHz signal is never held in memory.
        peak = max(float(np.abs(_upsampled(mix, taps, s)).max()) for s in range(0, n, CHUNK))
        scale = np.float32(32767 * 10 ** (PEAK_DBFS / 20) / max(peak, 1e-9))
        with wave.open(str(out), "wb") as wav:
            wav.setparams((2, 2, OUT_RATE, frames, "NONE", "not compressed"))
            for s in range(0, n, CHUNK):
                pcm = np.rint(_upsampled(mix, taps, s)[: frames - UP * s] * scale)
                wav.writeframes(np.clip(pcm, -32767, 32767).astype("<i2").tobytes())
