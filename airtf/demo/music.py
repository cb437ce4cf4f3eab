"""Generated musical material: melodies, chords, bass lines and drum patterns.

A :class:`Song` fixes a key, a tempo and a chord progression; the role
functions in :data:`ROLES` (pitched: ``fn(song, rng, low, high)``) and
:data:`BEATS` (drum kit: ``fn(song, rng)``) write notes that fit it, with
dynamics (a crescendo or diminuendo over the clip, accents, small random
variation of velocity). Everything is drawn from the ``rng`` given, so equal
seeds give equal notes.
"""

import dataclasses

import numpy as np

from airtf.demo import gm

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PITCH_CLASSES = ("c", "c-sharp", "d", "e-flat", "e", "f", "f-sharp", "g", "a-flat", "a", "b-flat", "b")
PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (1, 4, 0, 0), (0, 5, 1, 4), (0, 0, 3, 4))
"""Chord progressions as scale degrees (0 = tonic), one chord per bar."""
BEATS_PER_BAR = 4


@dataclasses.dataclass(frozen=True)
class Note:
    """One note: start and duration in seconds, MIDI pitch and velocity (1-127)."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclasses.dataclass(frozen=True)
class Song:
    """The frame that every part of a clip plays in.

    Attributes
    ----------
    tonic : pitch class of the key (0 = C).
    minor : minor (natural) or major key.
    tempo : beats per minute.
    progression : scale degrees of the chords, one per bar, repeated.
    seconds : length of the clip.
    """

    tonic: int
    minor: bool
    tempo: float
    progression: tuple
    seconds: float

    @property
    def beat(self):
        """Seconds per beat."""
        return 60.0 / self.tempo

    @property
    def key_name(self):
        """The key as a tag, e.g. ``"e-flat-minor"``."""
        return f"{PITCH_CLASSES[self.tonic]}-{'minor' if self.minor else 'major'}"

    def scale_pitches(self, low, high):
        """MIDI pitches of the key's scale within [low, high]."""
        steps = MINOR if self.minor else MAJOR
        return [p for p in range(low, high + 1) if (p - self.tonic) % 12 in steps]

    def chord_classes(self, time):
        """Pitch classes of the triad sounding at ``time``."""
        steps = MINOR if self.minor else MAJOR
        bar = int(time // (self.beat * BEATS_PER_BAR))
        degree = self.progression[bar % len(self.progression)]
        return {(self.tonic + steps[(degree + third) % 7]) % 12 for third in (0, 2, 4)}

    def chord_pitches(self, time, low, high):
        """MIDI pitches of the chord at ``time`` within [low, high]."""
        classes = self.chord_classes(time)
        return [p for p in range(low, high + 1) if p % 12 in classes]

    def root(self, time, low, high):
        """Lowest pitch within [low, high] of the chord's root at ``time``."""
        steps = MINOR if self.minor else MAJOR
        bar = int(time // (self.beat * BEATS_PER_BAR))
        root_class = (self.tonic + steps[self.progression[bar % len(self.progression)]]) % 12
        return next(p for p in range(low, high + 1) if p % 12 == root_class)


def random_song(rng, seconds, tempo_range=(70, 150)):
    """A random key, tempo and progression for a clip of ``seconds``."""
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    return Song(tonic=int(rng.integers(12)), minor=bool(rng.random() < 0.4),
                tempo=float(rng.integers(*tempo_range)), progression=progression, seconds=seconds)


class Dynamics:
    """Velocity over a clip: a base level, a linear swell, accents, variation."""

    def __init__(self, rng, seconds):
        self.rng = rng
        self.seconds = seconds
        self.start = rng.uniform(50, 110)
        self.end = np.clip(self.start + rng.uniform(-35, 35), 35, 120)

    def velocity(self, time, accent=0.0):
        """Velocity of a note at ``time``, ``accent`` added."""
        level = self.start + (self.end - self.start) * time / self.seconds
        return int(np.clip(round(level + accent + self.rng.normal(0, 5)), 1, 127))


def _position(song, time):
    """Beats since the clip began, rounded so that grid times compare exactly."""
    return round(time / song.beat, 3)


def _beat_grid(song, step_beats):
    """Start times of every ``step_beats`` beats within the clip."""
    return np.arange(0.0, song.seconds, step_beats * song.beat)


def _accent(song, time):
    """Accent of a downbeat (strong), other beats (weak), off-beats (none)."""
    position = _position(song, time)
    if position % BEATS_PER_BAR == 0:
        return 10.0
    return 4.0 if position == int(position) else 0.0


def melody(song, rng, low, high, articulation=0.9):
    """A stepwise line in the key that favours chord tones on beats.

    ``articulation`` is the sounding fraction of each note's time: below
    about 0.5 staccato, above 1 legato (notes overlap).
    """
    scale = song.scale_pitches(low, high)
    dynamics = Dynamics(rng, song.seconds)
    index = int(rng.integers(len(scale) // 4, 3 * len(scale) // 4 + 1))
    notes, time = [], 0.0
    while time < song.seconds:
        beats = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])
        if rng.random() > 0.12:
            index = int(np.clip(index + rng.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3]), 0, len(scale) - 1))
            pitch = scale[index]
            if _position(song, time) % 1 == 0 and rng.random() < 0.5:
                pitch = _nearest(song.chord_pitches(time, low, high), pitch)
            notes.append(Note(time, beats * song.beat * articulation, pitch,
                              dynamics.velocity(time, _accent(song, time))))
        time += beats * song.beat
    return notes


def _nearest(pitches, pitch):
    return min(pitches, key=lambda candidate: abs(candidate - pitch)) if pitches else pitch


def _voicing(song, time, low, high, rng, size):
    """``size`` adjacent chord tones from a random place in [low, high]."""
    pitches = song.chord_pitches(time, low, high)
    first = int(rng.integers(max(1, len(pitches) - size + 1)))
    return pitches[first:first + size]


def chords(song, rng, low, high):
    """Block chords on a rhythm of whole, half or quarter bars."""
    dynamics = Dynamics(rng, song.seconds)
    step = rng.choice([1.0, 2.0, 4.0])
    size = int(rng.integers(3, 5))
    notes = []
    for time in _beat_grid(song, step):
        velocity = dynamics.velocity(time, _accent(song, time))
        notes += [Note(time, step * song.beat * 0.95, pitch, velocity)
                  for pitch in _voicing(song, time, low, high, rng, size)]
    return notes


def strummed(song, rng, low, high):
    """Chords strummed on eighth notes, as on a ukulele."""
    dynamics = Dynamics(rng, song.seconds)
    notes = []
    for time in _beat_grid(song, 0.5):
        velocity = dynamics.velocity(time, _accent(song, time))
        spread = rng.uniform(0.012, 0.03)
        for order, pitch in enumerate(_voicing(song, time, low, high, rng, 4)):
            notes.append(Note(time + order * spread, song.beat * 0.5, pitch, velocity))
    return notes


def arpeggio(song, rng, low, high):
    """The chord's tones one after another on eighths or sixteenths."""
    dynamics = Dynamics(rng, song.seconds)
    step = rng.choice([0.5, 0.25])
    pattern = rng.choice(["up", "down", "updown"])
    voicings = {}  # bar -> tones, one voicing per bar
    notes = []
    for count, time in enumerate(_beat_grid(song, step)):
        bar = int(time // (song.beat * BEATS_PER_BAR))
        if bar not in voicings:
            voicings[bar] = _voicing(song, time, low, high, rng, 4)
        tones = voicings[bar]
        cycle = {"up": tones, "down": tones[::-1], "updown": tones + tones[-2:0:-1]}[pattern]
        notes.append(Note(time, step * song.beat * 1.5, cycle[count % len(cycle)],
                          dynamics.velocity(time, _accent(song, time))))
    return notes


def tremolo_picking(song, rng, low, high):
    """A melody whose notes are re-picked on sixteenths, as on a mandolin."""
    notes = []
    for note in melody(song, rng, low, high, articulation=1.0):
        for time in np.arange(note.start, min(note.start + note.duration, song.seconds), song.beat / 4):
            velocity = int(np.clip(note.velocity + rng.normal(0, 6), 1, 127))
            notes.append(Note(time, song.beat / 4, note.pitch, velocity))
    return notes


def bass_line(song, rng, low, high):
    """Roots on downbeats, then roots, fifths, octaves and passing tones."""
    dynamics = Dynamics(rng, song.seconds)
    step = rng.choice([1.0, 0.5])
    scale = song.scale_pitches(low, high)
    notes = []
    for time in _beat_grid(song, step):
        root = song.root(time, low, high)
        downbeat = _position(song, time) % BEATS_PER_BAR == 0
        choices = [p for p in (root, root + 7, root + 12, _nearest(scale, root + int(rng.choice([2, -2, 5]))))
                   if low <= p <= high]
        pitch = root if downbeat else int(rng.choice(choices))
        notes.append(Note(time, step * song.beat * 0.9, pitch, dynamics.velocity(time, _accent(song, time))))
    return notes


def drum_beat(song, rng):
    """Kick, snare (or side stick, or clap) and a tom fill every fourth bar."""
    dynamics = Dynamics(rng, song.seconds)
    kick = int(rng.choice(gm.DRUM_NOTES["kick"]))
    backbeat = int(rng.choice(gm.DRUM_NOTES["snare"] + gm.DRUM_NOTES["side_stick"] + gm.DRUM_NOTES["clap"]))
    kick_beats = [(0.0, 2.0), (0.0, 1.5, 2.0), (0.0, 2.0, 2.5), (0.0, 1.0, 2.0, 3.0)][rng.integers(4)]
    toms = sorted(gm.DRUM_NOTES["toms"], reverse=True)
    notes = []
    for time in _beat_grid(song, 0.5):
        position = _position(song, time) % BEATS_PER_BAR
        bar = int(_position(song, time) // BEATS_PER_BAR)
        if bar % 4 == 3 and position >= 2:
            tom = toms[int((position - 2) * 2) % len(toms)]
            notes.append(Note(time, 0.1, tom, dynamics.velocity(time, 6)))
            continue
        if position in kick_beats:
            notes.append(Note(time, 0.1, kick, dynamics.velocity(time, _accent(song, time))))
        if position in (1.0, 3.0):
            notes.append(Note(time, 0.1, backbeat, dynamics.velocity(time, 8)))
    return notes


def cymbal_beat(song, rng):
    """Hi-hat eighths or sixteenths, or a ride on beats, with crashes on phrase starts."""
    dynamics = Dynamics(rng, song.seconds)
    timekeepers = (("closed_hihat", 0.5), ("closed_hihat", 0.25), ("ride", 1.0), ("pedal_hihat", 1.0))
    cymbal, step = timekeepers[rng.integers(len(timekeepers))]
    keeper = int(rng.choice(gm.CYMBAL_NOTES[cymbal]))
    crash = int(rng.choice(gm.CYMBAL_NOTES["crash"] + gm.CYMBAL_NOTES["splash"]))
    notes = []
    for time in _beat_grid(song, step):
        position = _position(song, time) % BEATS_PER_BAR
        bar = int(_position(song, time) // BEATS_PER_BAR)
        if position == 0 and bar % 4 == 0:
            notes.append(Note(time, 0.5, crash, dynamics.velocity(time, 10)))
        elif position == 3.5 and rng.random() < 0.3:
            notes.append(Note(time, 0.2, gm.CYMBAL_NOTES["open_hihat"][0], dynamics.velocity(time)))
        else:
            notes.append(Note(time, 0.1, keeper, dynamics.velocity(time, _accent(song, time))))
    return notes


ROLES = {
    "melody": melody,
    "chords": chords,
    "strum": strummed,
    "arpeggio": arpeggio,
    "tremolo": tremolo_picking,
    "bass": bass_line,
}
"""Pitched material: role -> ``fn(song, rng, low, high)`` returning notes."""

BEATS = {"drums": drum_beat, "cymbals": cymbal_beat}
"""Drum-kit material: role -> ``fn(song, rng)`` returning notes."""
