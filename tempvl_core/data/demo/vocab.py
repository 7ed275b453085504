"""The closed vocabulary of the demo world: colours, shapes, motions and their words.

Everything a demo caption can say is listed here, next to what the renderer draws for it, so
that text and pixels cannot drift apart. Colours are far apart in RGB so that they survive
H.264 chroma subsampling at 64 px and can be told apart by a tiny model (and by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Object colours (name -> RGB). Saturated and mutually distant.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30),
    "green": (30, 200, 40),
    "blue": (40, 70, 240),
    "yellow": (240, 230, 40),
    "white": (245, 245, 245),
    "purple": (170, 40, 220),
    "cyan": (30, 220, 230),
    "orange": (250, 140, 20),
}

#: Background colours: dark, so that every object colour stands out against every background.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (10, 10, 10),
    "dark grey": (55, 55, 55),
    "navy": (15, 20, 70),
    "dark green": (15, 55, 25),
}

#: Shapes the renderer can draw.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross")

#: Shapes whose rotation is visible (a spinning circle looks still, so it never "spins").
ROTATION_VISIBLE: frozenset[str] = frozenset({"square", "triangle", "star", "cross"})


@dataclass(frozen=True)
class Motion:
    """One kind of event: the caption phrase, the action-class name and the QA answer word."""

    name: str
    phrase: str  # completes "the red circle ..."
    action_class: str  # CamelCase class name for detection benchmarks (THUMOS/ActivityNet)
    answer: str  # one-word answer to "what does the ... do?"


MOTIONS: dict[str, Motion] = {
    m.name: m
    for m in (
        Motion("move_left", "moves to the left", "MoveLeft", "left"),
        Motion("move_right", "moves to the right", "MoveRight", "right"),
        Motion("move_up", "moves up", "MoveUp", "up"),
        Motion("move_down", "moves down", "MoveDown", "down"),
        Motion("grow", "grows bigger", "Grow", "grows"),
        Motion("shrink", "shrinks", "Shrink", "shrinks"),
        Motion("spin", "spins around", "Spin", "spins"),
        Motion("blink", "blinks", "Blink", "blinks"),
        Motion("appear", "appears", "Appear", "appears"),
        Motion("disappear", "disappears", "Disappear", "disappears"),
    )
}

#: ActivityNet-style label of each motion (human words, as in "Discus throw").
ACTIVITY_LABELS: dict[str, str] = {
    "move_left": "Moving left", "move_right": "Moving right", "move_up": "Moving up",
    "move_down": "Moving down", "grow": "Growing", "shrink": "Shrinking", "spin": "Spinning",
    "blink": "Blinking", "appear": "Appearing", "disappear": "Disappearing",
}  # fmt: skip

#: Parent node of each motion in the ActivityNet-style taxonomy.
ACTIVITY_PARENTS: dict[str, str] = {
    "move_left": "Moving", "move_right": "Moving", "move_up": "Moving", "move_down": "Moving",
    "grow": "Changing size", "shrink": "Changing size", "spin": "Turning",
    "blink": "Changing visibility", "appear": "Changing visibility",
    "disappear": "Changing visibility",
}  # fmt: skip

#: Motions that displace the object, and the unit direction (dx, dy) in image coordinates.
MOVE_DIRECTIONS: dict[str, tuple[float, float]] = {
    "move_left": (-1.0, 0.0),
    "move_right": (1.0, 0.0),
    "move_up": (0.0, -1.0),
    "move_down": (0.0, 1.0),
}

#: Words for "how many" questions.
NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six")


def object_phrase(colour: str, shape: str) -> str:
    """``"red circle"``: how captions name an object (colours are unique within a scene)."""
    return f"{colour} {shape}"


def event_phrase(colour: str, shape: str, motion: str) -> str:
    """``"the red circle moves to the left"``."""
    return f"the {object_phrase(colour, shape)} {MOTIONS[motion].phrase}"


def action_classes() -> list[str]:
    """Detection class names, sorted alphabetically (label ids follow this order)."""
    return sorted(m.action_class for m in MOTIONS.values())


def parse_event_phrase(text: str) -> tuple[str, str, str]:
    """Inverse of :func:`event_phrase` (a trailing ``.`` allowed): ``(colour, shape, motion)``."""
    words = text.strip().rstrip(".")
    for motion in MOTIONS.values():
        suffix = " " + motion.phrase
        if words.startswith("the ") and words.endswith(suffix):
            colour, _, shape = words[4 : -len(suffix)].rpartition(" ")
            if colour in COLOURS and shape in SHAPES:
                return colour, shape, motion.name
    raise ValueError(f"not a demo event phrase: {text!r}")
