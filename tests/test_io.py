import pytest

from forecastlab.io import atomic_path, read_json, write_json


def test_interrupted_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "out" / "model.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_completed_write_replaces_the_target(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"x": 1})
    write_json(target, {"x": 2})
    assert read_json(target) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
