"""Video captioning metrics through the ``pycocoevalcap`` package (coco-caption's code).

Pipeline as coco-caption: PTB tokenizer (Java) on references and candidates, then BLEU-1..4,
METEOR (jar, ``-l en -norm``), ROUGE-L and CIDEr (CIDEr-D). Scores are reported x100, as
captioning papers print them (pycocoevalcap's BLEU 0.41 is 41.0, its CIDEr 0.53 is 53.0; full
precision kept; results schema 5 on). CIDEr's document frequencies come from the references of
the videos scored together, so a video's score depends on the set; METEOR's corpus score is the
jar's aggregate, not the mean of per-video scores; BLEU is corpus-level.

The Java PTB tokenizer reads one caption per line, so a line boundary inside a caption
(``\r``, ``\v``, ``\f``, U+2028, ...) would shift every later caption onto another video:
every Unicode line boundary (those of ``str.splitlines``) becomes a space first.

METEOR starts a JVM that loads paraphrase tables (about 20 s on a busy 2-core machine), so one
process-wide scorer is started lazily and reused by every call.
"""

from __future__ import annotations

import atexit
import threading
from typing import Hashable, Mapping, Sequence

import numpy as np

#: pycocoevalcap's scores (0-1, CIDEr unbounded) times this are the reported ones.
SCALE = 100.0

CAPTION_METRIC_NAMES: tuple[str, ...] = (
    "cap/BLEU@1", "cap/BLEU@2", "cap/BLEU@3", "cap/BLEU@4",
    "cap/METEOR", "cap/ROUGE-L", "cap/CIDEr",
)

#: Every character ``str.splitlines`` breaks at; each becomes a space before tokenizing.
_LINE_BOUNDARIES = str.maketrans({c: " " for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def one_line(text: str) -> str:
    """``text`` with every Unicode line boundary replaced by a space (one line for the tokenizer)."""
    return text.translate(_LINE_BOUNDARIES)


class CaptionScorer:
    """Owns the pycocoevalcap scorers; the METEOR subprocess starts on first use."""

    def __init__(self) -> None:
        self._meteor = None
        self._lock = threading.Lock()

    def meteor(self):
        """The shared ``pycocoevalcap`` METEOR scorer (needs ``java`` on PATH)."""
        with self._lock:
            if self._meteor is None:
                from pycocoevalcap.meteor.meteor import Meteor

                self._meteor = Meteor()
            return self._meteor

    def close(self) -> None:
        """Stop the METEOR subprocess (a later call starts a new one)."""
        with self._lock:
            meteor, self._meteor = self._meteor, None
        if meteor is not None:
            meteor.meteor_p.stdin.close()
            meteor.meteor_p.kill()
            meteor.meteor_p.wait()

    def score(self, predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]]
              ) -> tuple[dict[str, float], dict[Hashable, dict[str, float]]]:
        """Corpus scores and per-video scores (x100), keyed by the canonical ``cap/*`` names."""
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        videos = _validate(predictions, references)
        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({v: [{"caption": one_line(c)} for c in references[v]] for v in videos})
        res = tokenizer.tokenize({v: [{"caption": one_line(predictions[v])}] for v in videos})
        res = {v: res[v] for v in gts}  # same key order: per-video lists follow gts order
        corpus: dict[str, float] = {}
        per_video_lists: dict[str, list[float]] = {}
        bleu, bleu_each = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(4):
            corpus[f"cap/BLEU@{n + 1}"] = float(bleu[n])
            per_video_lists[f"cap/BLEU@{n + 1}"] = list(bleu_each[n])
        for name, scorer in (("cap/METEOR", self.meteor()), ("cap/ROUGE-L", Rouge()), ("cap/CIDEr", Cider())):
            value, each = scorer.compute_score(gts, res)
            corpus[name] = float(value)
            per_video_lists[name] = list(each)
        keys = list(gts)
        per_video = {v: {name: SCALE * float(per_video_lists[name][i]) for name in CAPTION_METRIC_NAMES}
                     for i, v in enumerate(keys)}
        return {name: SCALE * corpus[name] for name in CAPTION_METRIC_NAMES}, per_video


def _validate(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]]) -> list:
    missing = [v for v in references if v not in predictions]
    unknown = [v for v in predictions if v not in references]
    if missing or unknown:
        raise ValueError(f"captions must cover the same videos as the references: {len(missing)} without "
                         f"prediction {missing[:5]}, {len(unknown)} unknown {unknown[:5]}")
    if not references:
        raise ValueError("no videos to score")
    for video, caption in predictions.items():
        if not isinstance(caption, str):
            raise ValueError(f"video {video!r}: predicted caption must be a string, got {type(caption).__name__}")
    for video, refs in references.items():
        if isinstance(refs, str) or not refs or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"video {video!r}: references must be a non-empty list of strings")
    return list(references)


_DEFAULT: CaptionScorer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_scorer() -> CaptionScorer:
    """The process-wide scorer (closed at exit)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = CaptionScorer()
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def caption_metrics(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]],
                    scorer: CaptionScorer | None = None
                    ) -> tuple[dict[str, float], dict[Hashable, dict[str, float]]]:
    """(corpus scores, per-video scores) for one caption per video against its reference list,
    x100 as captioning papers print them."""
    return (scorer or default_scorer()).score(predictions, references)


#: Corpus scores that are the mean of the per-video scores pycocoevalcap returns (CIDEr-D with
#: the evaluated set's document frequencies, ROUGE-L); BLEU (corpus n-gram counts) and METEOR
#: (the jar's aggregate) are not, and their intervals are shifted to the corpus value.
MEAN_OF_PER_VIDEO = ("cap/CIDEr", "cap/ROUGE-L")


def caption_outcomes(corpus: Mapping[str, float], per_video: Mapping[Hashable, Mapping[str, float]]
                     ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-video arrays of every metric (video order of ``per_video``) and the reported values
    that are not their mean (the ``points`` of :meth:`tempvl_bench.report.uncertainty.Outcomes.per_unit`)."""
    values = {name: np.array([scores[name] for scores in per_video.values()]) for name in corpus}
    points = {name: float(corpus[name]) for name in corpus if name not in MEAN_OF_PER_VIDEO}
    return values, points


def best_constant_caption(references: Mapping[Hashable, Sequence[str]], max_candidates: int = 30,
                          max_videos: int = 500, seed: int = 0) -> str:
    """The training caption that, given to every video, scores the best CIDEr-D against the
    references (pycocoevalcap's CiderScorer on PTB-tokenized text; the first of equal scores).

    Candidates are the distinct references with the most widely shared n-grams (the
    ``max_candidates`` with the highest mean document frequency of their 1- to 4-grams), scored
    on at most ``max_videos`` videos (a seeded sample), so large training sets stay cheap.
    Pairing every candidate with every video in one scorer keeps CIDEr's document frequencies
    those of the references: each count and the corpus size scale by the number of candidates.
    """
    from pycocoevalcap.cider.cider_scorer import CiderScorer
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    videos = list(references)
    if not videos:
        raise ValueError("no training references to fit a constant caption on")
    if len(videos) > max_videos:
        keep = np.sort(np.random.default_rng(seed).choice(len(videos), max_videos, replace=False))
        videos = [videos[i] for i in keep]
    keys = {(v, i): caption for v in videos for i, caption in enumerate(references[v])}
    tokens = PTBTokenizer().tokenize({k: [{"caption": one_line(c)}] for k, c in enumerate(keys.values())})
    tokenized = dict(zip(keys, (tokens[k][0] for k in range(len(keys)))))
    per_video = {v: [t for (video, _), t in tokenized.items() if video == v] for v in videos}
    frequency: dict[tuple, int] = {}
    for refs in per_video.values():
        for gram in {g for ref in refs for g in _ngrams(ref)}:
            frequency[gram] = frequency.get(gram, 0) + 1
    candidates: dict[str, str] = {}
    for key, text in tokenized.items():
        candidates.setdefault(text, keys[key])
    consensus = {t: np.mean([frequency.get(g, 0) for g in _ngrams(t)] or [0]) for t in candidates}
    chosen = sorted(candidates, key=lambda t: -consensus[t])[:max_candidates]
    scorer = CiderScorer(n=4, sigma=6.0)
    for text in chosen:
        for v in videos:
            scorer.cook_append(text, per_video[v])
    _, each = scorer.compute_score()
    means = np.asarray(each).reshape(len(chosen), len(videos)).mean(axis=1)
    return candidates[chosen[int(np.argmax(means))]]


def _ngrams(text: str, n: int = 4) -> list[tuple[str, ...]]:
    words = text.split()
    return [tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1)]
