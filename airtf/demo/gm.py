"""General MIDI knowledge for the demo sets.

Which General MIDI (GM) programs and drum-kit notes stand for OpenMIC-2018's
20 classes, NSynth's instrument families and sources, and Freesound-style
tags. Program numbers are 0-based (GM's "program 1", the grand piano, is 0);
drum kits are the presets of bank 128, played on MIDI channel 10.

OpenMIC-2018 classes (:data:`OPENMIC`), with the pitch range they play in::

    accordion          21 accordion, 23 tango accordion                 55-84
    banjo              105 banjo                                         55-81
    bass               32-37 acoustic, finger, pick, fretless, slap     28-52
    cello              42 cello                                          36-69
    clarinet           71 clarinet                                       52-86
    cymbals            drum kit: hi-hats 42 44 46, crash 49 57, ride 51 59,
                       chinese 52, ride bell 53, splash 55
    drums              drum kit: kicks 35 36, side stick 37, snares 38 40,
                       clap 39, toms 41 43 45 47 48 50
    flute              72 piccolo, 73 flute                              62-93
    guitar             24-30 nylon, steel, jazz, clean, muted,
                       overdriven, distortion                            40-76
    mallet_percussion  9 glockenspiel, 11 vibraphone, 12 marimba,
                       13 xylophone, 14 tubular bells                    53-89
    mandolin           stand-in: 25 steel-string guitar, tremolo-picked
                       in a mandolin's high register                     67-91
    organ              16-20 drawbar, percussive, rock, church, reed     43-84
    piano              0-3 grand, bright, electric grand, honky-tonk     36-96
    saxophone          64-67 soprano, alto, tenor, baritone              46-80
    synthesizer        80 81 84 87 leads, 89 90 pads                     48-88
    trombone           57 trombone                                       40-72
    trumpet            56 trumpet, 59 muted trumpet                      55-82
    ukulele            stand-in: 24 nylon-string guitar, strummed
                       chords voiced in a ukulele's register             60-81
    violin             40 violin, 110 fiddle                             55-100
    voice              52 choir aahs, 53 voice oohs                      48-79

GM has no mandolin and no ukulele; the stand-ins are guitar samples played
the way those instruments are played. Because they share the guitar's
samples, a clip never gets a negative annotation for one of guitar, mandolin
and ukulele while another of them plays (:data:`CONFUSABLE`).
"""

import dataclasses

DRUM_CHANNEL = 9
"""MIDI channel 10 (0-based 9), the GM percussion channel."""

PERCUSSION_BANK = 128
"""The bank that holds drum kits in a GM soundfont."""

DRUM_KITS = {0: "standard", 8: "room", 16: "power", 24: "electronic", 25: "tr-808", 32: "jazz", 40: "brush"}
"""Drum kit presets of bank 128 (GS numbering), with their names."""

DRUM_NOTES = {
    "kick": (35, 36),
    "snare": (38, 40),
    "side_stick": (37,),
    "clap": (39,),
    "toms": (41, 43, 45, 47, 48, 50),
}
"""Kit notes of OpenMIC's class "drums", by drum."""

CYMBAL_NOTES = {
    "closed_hihat": (42,),
    "pedal_hihat": (44,),
    "open_hihat": (46,),
    "crash": (49, 57),
    "splash": (55,),
    "chinese": (52,),
    "ride": (51, 59),
    "ride_bell": (53,),
}
"""Kit notes of OpenMIC's class "cymbals", by cymbal."""


@dataclasses.dataclass(frozen=True)
class Voicing:
    """How the demo plays one OpenMIC class.

    Attributes
    ----------
    programs : GM programs that may play it (empty for the drum kit).
    low, high : MIDI pitch range of its material.
    roles : kinds of material it plays (keys of :data:`airtf.demo.music.ROLES`, or of
        :data:`airtf.demo.music.BEATS` for the drum kit).
    """

    programs: tuple
    low: int
    high: int
    roles: tuple

    @property
    def percussion(self):
        """Whether it is played on the drum kit."""
        return not self.programs


OPENMIC = {
    "accordion": Voicing((21, 23), 55, 84, ("melody", "chords")),
    "banjo": Voicing((105,), 55, 81, ("arpeggio", "chords")),
    "bass": Voicing((32, 33, 34, 35, 36, 37), 28, 52, ("bass",)),
    "cello": Voicing((42,), 36, 69, ("melody", "bass")),
    "clarinet": Voicing((71,), 52, 86, ("melody",)),
    "cymbals": Voicing((), 0, 127, ("cymbals",)),
    "drums": Voicing((), 0, 127, ("drums",)),
    "flute": Voicing((72, 73), 62, 93, ("melody",)),
    "guitar": Voicing((24, 25, 26, 27, 28, 29, 30), 40, 76, ("chords", "arpeggio", "melody")),
    "mallet_percussion": Voicing((9, 11, 12, 13, 14), 53, 89, ("melody", "arpeggio")),
    "mandolin": Voicing((25,), 67, 91, ("tremolo",)),
    "organ": Voicing((16, 17, 18, 19, 20), 43, 84, ("chords", "melody")),
    "piano": Voicing((0, 1, 2, 3), 36, 96, ("chords", "arpeggio", "melody")),
    "saxophone": Voicing((64, 65, 66, 67), 46, 80, ("melody",)),
    "synthesizer": Voicing((80, 81, 84, 87, 89, 90), 48, 88, ("melody", "chords")),
    "trombone": Voicing((57,), 40, 72, ("melody", "bass")),
    "trumpet": Voicing((56, 59), 55, 82, ("melody",)),
    "ukulele": Voicing((24,), 60, 81, ("strum",)),
    "violin": Voicing((40, 110), 55, 100, ("melody",)),
    "voice": Voicing((52, 53), 48, 79, ("melody", "chords")),
}
"""OpenMIC-2018 class -> how the demo plays it (the table in the module docstring)."""

CONFUSABLE = (frozenset({"guitar", "mandolin", "ukulele"}),)
"""Groups of classes that share samples: none is annotated absent while another plays."""


@dataclasses.dataclass(frozen=True)
class Program:
    """A GM program as NSynth and Freesound describe it.

    Attributes
    ----------
    name : GM name, lower case.
    family, source : NSynth's instrument family and source.
    percussive : whether the sound starts with a struck or plucked attack.
    """

    name: str
    family: str
    source: str
    percussive: bool


def _programs(family, source, percussive, names):
    return {number: Program(name, family, source, percussive) for number, name in names.items()}


PROGRAMS = {
    **_programs("keyboard", "acoustic", True, {0: "acoustic grand piano", 1: "bright acoustic piano",
                                               3: "honky-tonk piano", 6: "harpsichord"}),
    **_programs("keyboard", "electronic", True, {2: "electric grand piano", 4: "electric piano",
                                                 5: "fm electric piano", 7: "clavinet"}),
    **_programs("mallet", "acoustic", True, {8: "celesta", 9: "glockenspiel", 10: "music box", 11: "vibraphone",
                                             12: "marimba", 13: "xylophone", 14: "tubular bells", 15: "dulcimer",
                                             108: "kalimba", 114: "steel drums"}),
    **_programs("organ", "electronic", False, {16: "drawbar organ", 17: "percussive organ", 18: "rock organ"}),
    **_programs("organ", "acoustic", False, {19: "church organ", 20: "reed organ"}),
    **_programs("reed", "acoustic", False, {21: "accordion", 22: "harmonica", 23: "tango accordion",
                                            64: "soprano sax", 65: "alto sax", 66: "tenor sax",
                                            67: "baritone sax", 68: "oboe", 69: "english horn", 70: "bassoon",
                                            71: "clarinet", 109: "bagpipe"}),
    **_programs("guitar", "acoustic", True, {24: "nylon guitar", 25: "steel guitar", 104: "sitar", 105: "banjo",
                                             106: "shamisen", 107: "koto"}),
    **_programs("guitar", "electronic", True, {26: "jazz guitar", 27: "clean electric guitar",
                                               28: "muted electric guitar", 29: "overdriven guitar",
                                               30: "distortion guitar"}),
    **_programs("bass", "acoustic", True, {32: "acoustic bass"}),
    **_programs("bass", "electronic", True, {33: "fingered bass", 34: "picked bass", 35: "fretless bass",
                                             36: "slap bass"}),
    **_programs("bass", "synthetic", False, {38: "synth bass", 39: "analog synth bass"}),
    **_programs("string", "acoustic", False, {40: "violin", 41: "viola", 42: "cello", 43: "contrabass",
                                              44: "tremolo strings", 48: "string ensemble",
                                              49: "slow string ensemble", 110: "fiddle"}),
    **_programs("string", "acoustic", True, {45: "pizzicato strings", 46: "harp"}),
    **_programs("string", "synthetic", False, {50: "synth strings", 51: "analog synth strings"}),
    **_programs("vocal", "acoustic", False, {52: "choir", 53: "voice oohs"}),
    **_programs("vocal", "synthetic", False, {54: "synth voice"}),
    **_programs("brass", "acoustic", False, {56: "trumpet", 57: "trombone", 58: "tuba", 59: "muted trumpet",
                                             60: "french horn", 61: "brass section"}),
    **_programs("brass", "synthetic", False, {62: "synth brass", 63: "analog synth brass"}),
    **_programs("flute", "acoustic", False, {72: "piccolo", 73: "flute", 74: "recorder", 75: "pan flute",
                                             76: "blown bottle", 77: "shakuhachi", 78: "whistle", 79: "ocarina"}),
    **_programs("synth_lead", "synthetic", False, {80: "square lead", 81: "sawtooth lead", 82: "calliope lead",
                                                   83: "chiff lead", 84: "charang", 86: "fifths lead",
                                                   87: "bass and lead"}),
}
"""GM program -> its name, NSynth family and source, and whether it is percussive."""

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
            "vocal")
"""NSynth's instrument families, in index order."""

SOURCES = ("acoustic", "electronic", "synthetic")
"""NSynth's instrument sources, in index order."""

FAMILY_RANGES = {
    "bass": (28, 55), "brass": (45, 82), "flute": (60, 96), "guitar": (40, 84), "keyboard": (28, 100),
    "mallet": (53, 96), "organ": (36, 96), "reed": (45, 84), "string": (40, 96), "synth_lead": (40, 96),
    "vocal": (48, 79),
}
"""MIDI pitch range in which each family's programs sound natural."""
