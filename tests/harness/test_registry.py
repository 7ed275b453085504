from pathlib import Path

import pytest

from tempvl_bench.plugin.registry import BackboneRegistry, BackboneSpec, RegistryError, TaskRegistry, TaskSpec


def _task(name, groups=()):
    return TaskSpec(name, Path(f"{name}.yaml"), "probe_family:Probe", groups=groups)


def test_unknown_name_suggests_close_matches():
    reg = TaskRegistry()
    reg.register(_task("didemo"))
    reg.register(_task("msrvtt"))
    with pytest.raises(RegistryError) as err:
        reg.get("dideom")
    assert "Did you mean 'didemo'?" in str(err.value)
    assert "Available: didemo, msrvtt" in str(err.value)


def test_duplicate_names_are_rejected_naming_both_plugins():
    reg = TaskRegistry()
    reg.current_plugin = "first"
    reg.register(_task("didemo"))
    reg.current_plugin = "second"
    with pytest.raises(RegistryError, match="by first and by second"):
        reg.register(_task("didemo"))


def test_expand_groups_and_comma_lists_keep_order_without_duplicates():
    reg = TaskRegistry()
    for name in ("didemo", "msvd", "charades-sta"):
        reg.register(_task(name, ("retrieval",) if name != "charades-sta" else ("moment-retrieval",)))
    assert reg.expand("charades-sta,retrieval,didemo") == ["charades-sta", "didemo", "msvd"]
    with pytest.raises(RegistryError, match="Did you mean 'retrieval'"):
        reg.expand("retreival")


def test_backbone_with_argument_resolves_prefix():
    reg = BackboneRegistry()
    reg.register(BackboneSpec("timm", lambda o: None, takes_argument=True))
    reg.register(BackboneSpec("cnn-tiny", lambda o: None))
    spec, arg = reg.resolve("timm:resnet18")
    assert spec.name == "timm" and arg == "resnet18"
    assert reg.resolve("cnn-tiny")[1] is None
    with pytest.raises(RegistryError):
        reg.resolve("cnn-tiny:extra")
