"""Questions a demo clip answers: colour, shape, direction, action and count.

Every question names something that is unique in its scene (colours are unique; a shape or a
motion is used to point at an object only when no other object shares it), so the one-word
answer can be read off the video.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import count_word
from tempvl_core.data.demo.vocab import MOTIONS, MOVE_DIRECTIONS


@dataclass(frozen=True)
class SceneQuestion:
    """One question a scene answers, with its one-word answer; ``kind`` is
    colour/shape/direction/action/count. The generators write it into the QA files; what the
    loaders read back from them is a :class:`tempvl_core.data.records.QAItem`."""

    question: str
    answer: str
    kind: str


def scene_questions(scene: Scene) -> list[SceneQuestion]:
    """All unambiguous questions about ``scene``, in a fixed order."""
    items: list[SceneQuestion] = []
    shapes = Counter(o.shape for o in scene.objects)
    motions_of = {i: [e.motion for e in scene.events if e.object == i] for i in range(len(scene.objects))}
    motion_owners = Counter(m for ms in motions_of.values() for m in set(ms))
    for i, obj in enumerate(scene.objects):
        items.append(SceneQuestion(f"what shape is the {obj.colour} object?", obj.shape, "shape"))
        if shapes[obj.shape] == 1:
            items.append(SceneQuestion(f"what color is the {obj.shape}?", obj.colour, "colour"))
        for motion in motions_of[i]:
            if motion_owners[motion] == 1:
                phrase = MOTIONS[motion].phrase
                items.append(SceneQuestion(f"what color is the object that {phrase}?", obj.colour, "colour"))
            if motion in MOVE_DIRECTIONS:
                q = f"which direction does the {obj.colour} {obj.shape} move?"
                items.append(SceneQuestion(q, MOTIONS[motion].answer, "direction"))
        if len(motions_of[i]) == 1:
            q = f"what does the {obj.colour} {obj.shape} do?"
            items.append(SceneQuestion(q, MOTIONS[motions_of[i][0]].answer, "action"))
    items.append(SceneQuestion("how many objects are there?", count_word(len(scene.objects)), "count"))
    return _dedupe(items)


def _dedupe(items: list[SceneQuestion]) -> list[SceneQuestion]:
    """Drop repeated questions (an object that moves twice) and questions whose answer is not
    unique (it moved in two directions)."""
    answers: dict[str, set[str]] = {}
    for item in items:
        answers.setdefault(item.question, set()).add(item.answer)
    seen, out = set(), []
    for item in items:
        if item.question not in seen and len(answers[item.question]) == 1:
            seen.add(item.question)
            out.append(item)
    return out
