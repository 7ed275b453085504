"""``catalogue.load`` is the one way to read a split's annotations, and ``tempvl_core.data``
imports in no circle (the parsers are leaves, the catalogue imports them, never the reverse).

The golden table below is what every catalogued split of the seed-0 demo datasets (demo format
9) loads to: record count, first and last record id, the files read (relative to the dataset
folder) and the parser's counts. A change to a parser, a layout or the catalogue that alters
what a run reads fails here. A new demo format version changes the table: regenerate it from
the demo data then.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from tempvl_core.data import catalogue
from tempvl_core.data.demo import ensure_demo_dataset
from tempvl_core.data.demo.cache import FORMAT_VERSION

REPO = Path(__file__).resolve().parents[2]

# (dataset, kind, split): (records, first id, last id, files, stats); the id is each record's
# first field (video_id, question_id, item_id, query_id or media_name).
GOLDEN = {
    ("msrvtt", "retrieval", "train_9k"): (96, "video0", "video95", ["MSRVTT_train.9k.csv", "MSRVTT_data.json"], {"missing": 0, "pairs": 480}),
    ("msrvtt", "retrieval", "train_7k"): (75, "video0", "video74", ["MSRVTT_train.7k.csv", "MSRVTT_data.json"], {"missing": 0, "pairs": 375}),
    ("msrvtt", "retrieval", "test"): (300, "video96", "video395", ["MSRVTT_JSFUSION_test.csv"], {}),
    ("msrvtt", "captioning", "train"): (67, "video0", "video66", ["MSRVTT_data.json"], {"no_captions": 0}),
    ("msrvtt", "captioning", "validate"): (8, "video67", "video74", ["MSRVTT_data.json"], {"no_captions": 0}),
    ("msrvtt", "captioning", "test"): (321, "video75", "video395", ["MSRVTT_data.json"], {"no_captions": 0}),
    ("msrvtt", "qa", "train"): (636, "0", "635", ["train_qa.json"], {}),
    ("msrvtt", "qa", "val"): (74, "636", "709", ["val_qa.json"], {}),
    ("msrvtt", "qa", "test"): (2922, "710", "3631", ["test_qa.json"], {}),
    ("msrvtt", "mc", "test"): (300, "0", "299", ["msrvtt_mc.json"], {}),
    ("didemo", "retrieval", "train"): (128, "100240427744@N02_6403760722_769578cb52.m4v", "99994087232@N08_17932077236_832cc0788c.mp4", ["train_data.json", "train_list.txt"], {"missing": 0, "annotated_not_listed": 0}),
    ("didemo", "retrieval", "val"): (16, "100702272270@N01_8217902369_bf0d0bf620.m4v", "89026395253@N01_4164650539_366d2d0122.", ["val_data.json", "val_list.txt"], {"missing": 0, "annotated_not_listed": 0}),
    ("didemo", "retrieval", "test"): (300, "100335697569@N06_19550199445_f969863f4f.mts", "99751641049@N05_2848509316_b3e73241e1.m4v", ["test_data.json", "test_list.txt"], {"missing": 0, "annotated_not_listed": 0}),
    ("didemo", "moments", "train"): (434, "47246", "59225", ["train_data.json"], {"clipped": 0, "dropped": 0}),
    ("didemo", "moments", "val"): (50, "17664", "13333", ["val_data.json"], {"clipped": 0, "dropped": 0}),
    ("didemo", "moments", "test"): (1014, "20641", "44257", ["test_data.json"], {"clipped": 0, "dropped": 0}),
    ("msvd", "retrieval", "train"): (48, "-LdKyOVmMAR_287_294", "ybXM9VFQ9eJ_69_74", ["raw-captions.pkl", "train_list.txt"], {"missing": 0, "captions": 282}),
    ("msvd", "retrieval", "val"): (8, "K3qWefvrkKo_85_94", "ywygQ3O0547_56_63", ["raw-captions.pkl", "val_list.txt"], {"missing": 0, "captions": 45}),
    ("msvd", "retrieval", "test"): (24, "-9RqD6a3kuQ_135_139", "zqSg0SIKTBw_161_169", ["raw-captions.pkl", "test_list.txt"], {"missing": 0, "captions": 133}),
    ("msvd", "captioning", "train"): (48, "-LdKyOVmMAR_287_294", "ybXM9VFQ9eJ_69_74", ["raw-captions.pkl", "train_list.txt"], {"missing": 0}),
    ("msvd", "captioning", "val"): (8, "K3qWefvrkKo_85_94", "ywygQ3O0547_56_63", ["raw-captions.pkl", "val_list.txt"], {"missing": 0}),
    ("msvd", "captioning", "test"): (24, "-9RqD6a3kuQ_135_139", "zqSg0SIKTBw_161_169", ["raw-captions.pkl", "test_list.txt"], {"missing": 0}),
    ("msvd", "qa", "train"): (414, "0", "413", ["train_qa.json", "youtube_mapping.txt"], {"missing": 0}),
    ("msvd", "qa", "val"): (85, "414", "498", ["val_qa.json", "youtube_mapping.txt"], {"missing": 0}),
    ("msvd", "qa", "test"): (180, "499", "678", ["test_qa.json", "youtube_mapping.txt"], {"missing": 0}),
    ("lsmdc", "retrieval", "train"): (288, "0001_Morning_Walk_00.01.14.044-00.01.19.044", "0001_Morning_Walk_00.23.30.024-00.23.36.024", ["LSMDC16_annos_training.csv"], {"repeated_ids": 32}),
    ("lsmdc", "retrieval", "val"): (8, "0031_Night_Train_00.01.25.815-00.01.30.815", "0031_Night_Train_00.03.00.470-00.03.04.470", ["LSMDC16_annos_val.csv"], {"repeated_ids": 0}),
    ("lsmdc", "retrieval", "test"): (200, "1001_Paper_Moon_00.00.47.956-00.00.53.956", "1002_Open_Road_00.28.29.717-00.28.35.717", ["LSMDC16_challenge_1000_publictect.csv"], {"repeated_ids": 0}),
    ("charades-sta", "moments", "train"): (557, "train:1", "train:557", ["charades_sta_train.txt", "Charades_v1_train.csv"], {"clipped": 39, "dropped": 0, "no_duration": 0}),
    ("charades-sta", "moments", "test"): (1045, "test:1", "test:1045", ["charades_sta_test.txt", "Charades_v1_test.csv"], {"clipped": 65, "dropped": 0, "no_duration": 0}),
    ("anet-captions", "moments", "train"): (456, "v_rSZa6zfIMJH#0", "v_6wdlFbi9-iJ#3", ["train.json"], {"clipped": 1, "dropped": 1}),
    ("anet-captions", "moments", "val_1"): (352, "v_ULN7P5ZCET9#0", "v_jO7ktkcky_f#3", ["val_1.json"], {"clipped": 0, "dropped": 0}),
    ("anet-captions", "moments", "val_2"): (276, "v_ULN7P5ZCET9#0", "v_jO7ktkcky_f#3", ["val_2.json"], {"clipped": 0, "dropped": 0}),
    ("anet-captions", "retrieval", "train"): (128, "v_rSZa6zfIMJH", "v_6wdlFbi9-iJ", ["train.json", "train_ids.json"], {"missing": 0}),
    ("anet-captions", "retrieval", "val_1"): (100, "v_ULN7P5ZCET9", "v_jO7ktkcky_f", ["val_1.json", "val_ids.json"], {"missing": 0}),
    ("anet-captions", "retrieval", "val_2"): (80, "v_ULN7P5ZCET9", "v_jO7ktkcky_f", ["val_2.json"], {"missing": 0}),
    ("qvhighlights", "moments", "train"): (383, "11151", "1380", ["highlight_train_release.jsonl"], {"clipped": 0, "dropped": 0, "without_gt": 0}),
    ("qvhighlights", "moments", "val"): (186, "1639", "13249", ["highlight_val_release.jsonl"], {"clipped": 0, "dropped": 0, "without_gt": 0}),
    ("qvhighlights", "moments", "test"): (28, "999", "13206", ["highlight_test_release.jsonl"], {"clipped": 0, "dropped": 0, "without_gt": 28}),
    ("thumos14", "action", "val"): (24, "video_validation_0000024", "video_validation_0001603", ["thumos14.json"], {"dropped": 0}),
    ("thumos14", "action", "test"): (63, "video_test_0000004", "video_test_0001691", ["thumos14.json"], {"dropped": 0}),
    ("activitynet", "action", "training"): (160, "Uas6fU-K8T5", "AgkjT-od8df", ["activity_net.v1-3.min.json"], {"clipped": 0, "dropped": 0}),
    ("activitynet", "action", "validation"): (64, "s9F3BezDtHp", "cTcL_9_1hh9", ["activity_net.v1-3.min.json"], {"clipped": 0, "dropped": 0}),
    ("activitynet", "action", "testing"): (8, "eDbaad8S6q4", "m7J_RlJEU-c", ["activity_net.v1-3.min.json"], {"clipped": 0, "dropped": 0}),
    ("webvid", "pretrain", "train"): (128, "000001_000050/1134382440.mp4", "000101_000150/1247703479.mp4", ["results_train.csv"], {"flat": 1}),
    ("cc3m", "pretrain", "train"): (128, "0.jpg", "127.jpg", ["Train_GCC-training.tsv"], {}),
}  # fmt: skip

#: Datasets with no demo data (TACoS); the demo root of the others (WebVid and CC3M are in ``pretrain``).
NO_DEMO = {"tacos"}
DEMO_ROOT = {"webvid": "pretrain", "cc3m": "pretrain"}


def test_the_golden_table_covers_every_catalogued_split_with_demo_data() -> None:
    catalogued = {(name, s.task, s.split) for name, spec in catalogue.DATASETS.items() if name not in NO_DEMO
                  for s in spec.sources}
    assert set(GOLDEN) == catalogued


@pytest.mark.skipif(FORMAT_VERSION != 9, reason="the golden table is of demo format 9; regenerate it")
@pytest.mark.parametrize("key", sorted(GOLDEN), ids="/".join)
def test_every_split_loads_through_the_catalogue_as_before(key: tuple[str, str, str]) -> None:
    dataset, kind, split = key
    folder = Path(ensure_demo_dataset(DEMO_ROOT.get(dataset, dataset), seed=0)) / catalogue.DATASETS[dataset].folder
    count, first, last, files, stats = GOLDEN[key]
    loaded = catalogue.load(dataset, folder, kind, split)
    ids = [getattr(r, dataclasses.fields(r)[0].name) for r in loaded.records]
    assert (len(ids), ids[0], ids[-1]) == (count, first, last)
    assert [p.relative_to(folder).as_posix() for p in loaded.files] == files
    assert loaded.stats == stats


def test_an_unknown_split_or_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset 'didemo' has no 'retrieval' split 'dev'; splits: train, val, test"):
        catalogue.load("didemo", tmp_path, "retrieval", "dev")
    with pytest.raises(ValueError, match="unknown dataset 'didemoo'"):
        catalogue.load("didemoo", tmp_path, "retrieval", "val")
    with pytest.raises(FileNotFoundError, match="val_data.json, val_list.txt"):
        catalogue.load("didemo", tmp_path, "retrieval", "val")


# -- who imports whom ----------------------------------------------------------------------------


def _modules(package: str) -> dict[str, Path]:
    """Module name -> file, for every module under ``package`` (a folder of the repository)."""
    out = {}
    for path in (REPO / package.replace(".", "/")).rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its file (inside functions too):
    ``from pkg import sub`` counts as importing ``pkg.sub``, ``from pkg import attr`` as ``pkg``."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules in order), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_tempvl_core_data_imports_in_no_circle() -> None:
    modules = _modules("tempvl_core.data")
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    parsers = [name for name in modules if name.startswith("tempvl_core.data.loaders")]
    for name in parsers:  # the parsers are leaves: records, errors and their file helpers only
        allowed = {"tempvl_core.data.records", "tempvl_core.data.errors", "tempvl_core.data.safe_pickle", *parsers}
        assert graph[name] <= allowed, f"{name} imports {sorted(graph[name] - allowed)}"


def test_only_the_catalogue_calls_the_parsers() -> None:
    """Outside ``tempvl_core/data/loaders``, only the catalogue imports a parser, and the
    pretraining engine, whose config names the WebVid CSV and CC3M TSV files themselves."""
    modules = {**_modules("tempvl_core"), **_modules("tempvl_bench"), **_modules("plugins")}
    importers = {name for name, path in modules.items() if not name.startswith("tempvl_core.data.loaders")
                 and any(m.startswith("tempvl_core.data.loaders") for m in _imports(name, path, set(modules)))}
    assert importers == {"tempvl_core.data.catalogue", "tempvl_core.train.pretrain"}


def test_plugins_get_the_same_catalogue_from_the_api() -> None:
    import types

    from tempvl_bench import api

    assert api.catalogue is catalogue
    # every other lazy name is a function or class of its module, never the module itself
    assert [n for n in api._LAZY if n != "catalogue" and isinstance(getattr(api, n), types.ModuleType)] == []
