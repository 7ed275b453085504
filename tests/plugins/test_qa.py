"""QA plugin: answer vocabulary, zero-shot candidates, options; demo runs through the real CLI,
re-scored with ``tempvl-bench score``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.config import ConfigError
from tempvl_core.data.records import QAItem
from tempvl_plugins.qa.open_ended import TextEmbeddingCache, group_questions_by_video
from tempvl_plugins.qa.options import GROUND_TRUTH_JSON, PREDICTIONS_JSON, VOCAB_JSON, QAOptions
from tempvl_plugins.qa.vocab import AnswerVocab, candidates_by_type


def _item(qid: str, video: str, question: str, answer: str) -> QAItem:
    return QAItem(qid, video, f"{video}.mp4", question, answer, question.split()[0])


# -- answer vocabulary -----------------------------------------------------------------------

def test_vocab_keeps_most_frequent_answers_with_alphabetical_ties():
    vocab = AnswerVocab.build(["dog", "cat", "cat", "man", "ball", "ball", "cat", "zebra"], size=3)
    assert vocab.answers == ("cat", "ball", "dog")  # dog, man, zebra tie at 1: alphabetical
    assert vocab.counts == (3, 2, 1)
    assert vocab.index() == {"cat": 0, "ball": 1, "dog": 2}
    assert vocab.coverage(["cat", "man", "dog", "zebra"]) == 0.5


def test_vocab_does_not_depend_on_file_order_and_hash_tracks_content():
    answers = ["a", "b", "b", "c", "c", "d"]
    first, second = AnswerVocab.build(answers, 10), AnswerVocab.build(list(reversed(answers)), 10)
    assert first == second and first.sha256() == second.sha256()
    assert AnswerVocab.build(answers, 2).sha256() != first.sha256()


@pytest.mark.parametrize("answers, size", [([], 5), (["a"], 0)])
def test_vocab_rejects_empty_training_split_and_bad_size(answers, size):
    with pytest.raises(ValueError):
        AnswerVocab.build(answers, size)


def test_zero_shot_candidates_follow_question_type():
    train = [
        _item("0", "v0", "what color is it?", "red"),
        _item("1", "v0", "what color is that?", "red"),
        _item("2", "v1", "what shape is it?", "square"),
        _item("3", "v1", "how many are there?", "two"),
        _item("4", "v1", "how many dogs?", "unicorn"),  # outside the vocabulary below
    ]
    vocab = AnswerVocab.build([t.answer for t in train], size=3)  # red, square, two
    per_type, fallback = candidates_by_type(train, vocab, limit=5)
    index = vocab.index()
    assert per_type["what"] == [index["red"], index["square"]]
    assert per_type["how"] == [index["two"]]
    assert fallback == [0, 1, 2]
    per_type, fallback = candidates_by_type(train, vocab, limit=1)
    assert per_type["what"] == [index["red"]] and fallback == [0]


def test_questions_grouped_by_video_in_first_appearance_order():
    items = [_item("0", "v2", "what a", "x"), _item("1", "v1", "what b", "y"), _item("2", "v2", "who c", "z")]
    groups = group_questions_by_video(items)
    assert [g.video_id for g in groups] == ["v2", "v1"]
    assert [q.question_id for q in groups[0].questions] == ["0", "2"]
    assert groups[0].video_name == "v2.mp4"


def test_options_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"options\.answer_vocab_sise.*Did you mean 'answer_vocab_size'"):
        QAOptions.parse({"answer_vocab_sise": 10}, "task.yaml")
    with pytest.raises(ConfigError, match=r"options\.zero_shot.*'auto'"):
        QAOptions.parse({"zero_shot": "guess"}, "task.yaml")
    with pytest.raises(ConfigError, match=r"options\.answer_vocab_size.*positive integer"):
        QAOptions.parse({"answer_vocab_size": 0}, "task.yaml")
    assert QAOptions.parse({"train_questions_per_video": None}, "t").train_questions_per_video is None


class _CountingEncoder:
    """Stands in for the model's text side: embeds a text as [length, first char code]."""

    def __init__(self):
        self.encoded: list[str] = []

    def tokenize(self, texts, max_length):
        return list(texts)

    def encode_text(self, texts):
        import torch

        self.encoded.extend(texts)
        return torch.tensor([[float(len(t)), float(ord(t[0]))] for t in texts])


def test_text_embedding_cache_encodes_each_text_once_and_keeps_order():
    model = _CountingEncoder()
    cache = TextEmbeddingCache(model, max_length=8, batch_size=2, capacity=2)
    first = cache.embed(["ab", "c", "ab", "def"])
    assert first[:, 0].tolist() == [2.0, 1.0, 2.0, 3.0]
    assert model.encoded == ["ab", "c", "def"]
    second = cache.embed(["c", "ab", "def"])  # "def" did not fit in the cache: encoded again
    assert second[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert model.encoded == ["ab", "c", "def", "def"]


# -- demo runs through the CLI ---------------------------------------------------------------

def _run(tmp_path: Path, task: str, *extra: str) -> tuple[dict, Path]:
    out = tmp_path / "results"
    assert main(["run", "--task", task, "--demo", "--output", str(out), "--no-progress", *extra]) == 0
    (path,) = list((out / task).glob("*/results.json"))
    return json.loads(path.read_text()), path.parent


def _rescore(run_dir: Path, tmp_path: Path, vocab: bool) -> dict:
    out = tmp_path / "rescored.json"
    argv = ["score", "--family", "qa", "--predictions", str(run_dir / PREDICTIONS_JSON),
            "--ground-truth", str(run_dir / GROUND_TRUTH_JSON), "--output", str(out)]
    if vocab:
        argv += ["--answer-vocab", str(run_dir / VOCAB_JSON)]
    assert main(argv) == 0
    return json.loads(out.read_text())


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


def _demo_file(name: str) -> list:
    from tempvl_core.data.demo import ensure_demo_dataset

    return json.loads((Path(ensure_demo_dataset("msrvtt")) / "msrvtt" / name).read_text())


def test_msrvtt_qa_zero_shot_by_similarity(tmp_path):
    result, run_dir = _run(tmp_path, "msrvtt-qa")
    test_questions = _demo_file("test_qa.json")
    assert result["family"] == "qa" and result["mode"] == "zero-shot" and result["split"] == "test"
    assert result["num_samples"] == len(test_questions)
    assert {"qa/acc", "qa/acc/what", "qa/acc/how"} <= set(result["metrics"])
    rows = _rows(run_dir)
    assert [r["question_id"] for r in rows] == [str(q["id"]) for q in test_questions]
    assert {r["method"] for r in rows} == {"similarity"}
    vocab = json.loads((run_dir / VOCAB_JSON).read_text())
    train_answers = {q["answer"] for q in _demo_file("train_qa.json")}
    assert set(vocab) == train_answers  # the demo has fewer answers than the vocabulary size
    # Similarity candidates come from the question's type: "how many" is answered with a count.
    counts = {q["answer"] for q in _demo_file("train_qa.json") if q["question"].startswith("how many")}
    assert {r["prediction"] for r in rows if r["question"].startswith("how many")} <= counts
    accuracy = 100 * sum(r["correct"] for r in rows) / len(rows)
    assert result["metrics"]["qa/acc"] == pytest.approx(accuracy)
    assert _rescore(run_dir, tmp_path, vocab=True) == result["metrics"]


def test_answers_outside_the_vocabulary_count_as_wrong(tmp_path):
    result, run_dir = _run(tmp_path, "msrvtt-qa", "--set", "options.answer_vocab_size=3", "--limit", "40")
    vocab = json.loads((run_dir / VOCAB_JSON).read_text())
    rows = _rows(run_dir)
    assert len(vocab) == 3 and result["num_samples"] == 40
    assert all(r["prediction"] in vocab for r in rows)
    outside = [r for r in rows if not r["answer_in_vocab"]]
    assert outside and not any(r["correct"] for r in outside)
    assert _rescore(run_dir, tmp_path, vocab=True) == result["metrics"]


def test_zero_shot_head_without_trained_head_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["run", "--task", "msvd-qa", "--demo", "--output", str(out), "--no-progress",
                 "--set", "options.zero_shot=head", "--limit", "4"])
    assert code == 2
    assert "options.zero_shot is 'head'" in capsys.readouterr().err


@pytest.mark.slow
def test_msvd_qa_finetune_trains_the_answer_head(tmp_path):
    result, run_dir = _run(tmp_path, "msvd-qa", "--mode", "finetune", "--set", "finetune.epochs=1")
    assert result["mode"] == "finetune"
    assert (run_dir / "finetune" / "model.safetensors").is_file()
    rows = _rows(run_dir)
    assert {r["method"] for r in rows} == {"head"} and len(rows) == result["num_samples"] > 0
    assert _rescore(run_dir, tmp_path, vocab=True) == result["metrics"]


def test_msrvtt_mc_zero_shot(tmp_path):
    result, run_dir = _run(tmp_path, "msrvtt-mc")
    items = _demo_file("msrvtt_mc.json")
    assert result["num_samples"] == len(items) and set(result["metrics"]) == {"qa/acc"}
    rows = _rows(run_dir)
    assert [r["answer_index"] for r in rows] == [item["answer"] for item in items]
    for row in rows:
        assert len(row["scores"]) == 5 and row["prediction_index"] == max(range(5), key=row["scores"].__getitem__)
    assert result["metrics"]["qa/acc"] == pytest.approx(100 * sum(r["correct"] for r in rows) / len(rows))
    assert _rescore(run_dir, tmp_path, vocab=False) == result["metrics"]


def test_msrvtt_mc_fused_scorer_gives_match_probabilities(tmp_path):
    result, run_dir = _run(tmp_path, "msrvtt-mc", "--set", "options.mc_scorer=fused", "--limit", "4")
    rows = _rows(run_dir)
    assert result["num_samples"] == 4 == len(rows)
    assert all(0.0 <= s <= 1.0 for row in rows for s in row["scores"])
