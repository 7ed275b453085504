"""Captioning metrics equal direct pycocoevalcap scorer calls x100, the scale captioning papers
print (one METEOR JVM for the session)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pycocoevalcap")
if shutil.which("java") is None:
    pytest.skip("java is needed by pycocoevalcap's tokenizer and METEOR", allow_module_level=True)

from pycocoevalcap.bleu.bleu import Bleu  # noqa: E402
from pycocoevalcap.cider.cider import Cider  # noqa: E402
from pycocoevalcap.rouge.rouge import Rouge  # noqa: E402
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer  # noqa: E402

from tempvl_bench.metrics import caption_metrics  # noqa: E402
from tempvl_bench.metrics.captioning import default_scorer  # noqa: E402

REFERENCES = {
    "vid1": ["A man is playing a guitar.", "Someone plays the guitar on stage!", "a man plays music"],
    "vid2": ["A cat is sleeping on the sofa.", "The kitten sleeps."],
    "vid3": ["Two people are cooking pasta in a kitchen.", "people cook food", "a woman and a man cook"],
    "vid4": ["A dog runs across the park.", "dog running on grass"],
}
PREDICTIONS = {
    "vid1": "a man is playing the guitar",
    "vid2": "a dog is sleeping",
    "vid3": "two people are cooking in the kitchen",
    "vid4": "a car drives on the road",
}


@pytest.fixture(scope="module")
def direct() -> dict:
    """Scores from calling the pycocoevalcap scorers ourselves, the way coco-caption does."""
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({v: [{"caption": c} for c in refs] for v, refs in REFERENCES.items()})
    res = tokenizer.tokenize({v: [{"caption": PREDICTIONS[v]}] for v in REFERENCES})
    out = {}
    bleu, bleu_each = Bleu(4).compute_score(gts, res, verbose=0)
    for n in range(4):
        out[f"cap/BLEU@{n + 1}"] = (bleu[n], bleu_each[n])
    out["cap/METEOR"] = default_scorer().meteor().compute_score(gts, res)  # same jar process
    out["cap/ROUGE-L"] = Rouge().compute_score(gts, res)
    out["cap/CIDEr"] = Cider().compute_score(gts, res)
    return out


def test_corpus_and_per_video_scores_equal_pycocoevalcap(direct: dict) -> None:
    corpus, per_video = caption_metrics(PREDICTIONS, REFERENCES)
    assert list(corpus) == ["cap/BLEU@1", "cap/BLEU@2", "cap/BLEU@3", "cap/BLEU@4",
                            "cap/METEOR", "cap/ROUGE-L", "cap/CIDEr"]
    assert list(per_video) == list(REFERENCES)
    for name, (value, each) in direct.items():
        assert corpus[name] == 100 * float(value), name
        assert [per_video[v][name] for v in REFERENCES] == [100 * float(x) for x in each], name
    assert 1 < corpus["cap/BLEU@1"] < 100 and corpus["cap/CIDEr"] > 1
    # METEOR's corpus score is the jar's aggregate, not the mean of the per-video scores.
    mean_meteor = sum(per_video[v]["cap/METEOR"] for v in REFERENCES) / len(REFERENCES)
    assert corpus["cap/METEOR"] != pytest.approx(mean_meteor, abs=1e-9)


def test_cider_depends_on_the_scored_set(direct: dict) -> None:
    subset = {v: REFERENCES[v] for v in ("vid1", "vid2")}
    _, per_video = caption_metrics({v: PREDICTIONS[v] for v in subset}, subset)
    full_vid1 = 100 * float(direct["cap/CIDEr"][1][0])
    assert per_video["vid1"]["cap/CIDEr"] != pytest.approx(full_vid1)


@pytest.mark.parametrize("preds, refs, message", [
    ({"a": "x"}, {"a": ["y"], "b": ["z"]}, "without prediction"),
    ({"a": "x", "c": "q"}, {"a": ["y"]}, "unknown"),
    ({"a": "x"}, {"a": []}, "non-empty list"),
    ({"a": 5}, {"a": ["y"]}, "must be a string"),
])
def test_errors(preds: dict, refs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        caption_metrics(preds, refs)


#: Every Unicode line boundary (``str.splitlines``); the Java tokenizer reads one caption per line.
LINE_BOUNDARIES = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.fixture(scope="module")
def clean() -> tuple[dict, dict]:
    return caption_metrics(PREDICTIONS, REFERENCES)


@pytest.mark.parametrize("boundary", LINE_BOUNDARIES, ids=[f"U+{ord(c[0]):04X}{'+' if len(c) > 1 else ''}"
                                                              for c in LINE_BOUNDARIES])
def test_a_line_boundary_in_a_caption_shifts_no_other_video(clean, boundary: str) -> None:
    """A line boundary in vid2's prediction and in one of vid3's references scores as a space:
    the other videos keep their scores and the corpus scores equal the clean captions'."""
    predictions = {**PREDICTIONS, "vid2": PREDICTIONS["vid2"].replace(" ", boundary, 1)}
    references = {**REFERENCES, "vid3": [REFERENCES["vid3"][0].replace(" ", boundary, 2), *REFERENCES["vid3"][1:]]}
    corpus, per_video = caption_metrics(predictions, references)
    clean_corpus, clean_per_video = clean
    for video in ("vid1", "vid4"):
        assert per_video[video] == clean_per_video[video], video
    assert per_video == clean_per_video
    assert corpus["cap/CIDEr"] == clean_corpus["cap/CIDEr"]
    assert corpus == clean_corpus
