"""`--keep-data` keeps the local Stripe server's state in the checkout's own file, and a
file it cannot read does not stop the server from starting."""

from localstripe.resources import store

from marketplace.localstripe_server import _keep_data_in


def test_state_is_saved_in_the_checkouts_file_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "dump_to_disk", store.dump_to_disk, raising=False)
    monkeypatch.setattr(store, "try_load_from_disk", store.try_load_from_disk, raising=False)
    path = tmp_path / "var" / "localstripe.pickle"
    saved = dict(store)
    try:
        _keep_data_in(path)
        store["cus:test"] = "kept"
        assert path.exists()
        dict.clear(store)
        _keep_data_in(path)
        assert store["cus:test"] == "kept"
    finally:
        dict.clear(store)
        dict.update(store, saved)


def test_a_file_it_cannot_read_is_set_aside_and_the_server_starts_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "dump_to_disk", store.dump_to_disk, raising=False)
    path = tmp_path / "localstripe.pickle"
    path.write_bytes(b"\x80\x05written by another version")
    _keep_data_in(path)
    assert not path.exists() and (tmp_path / "localstripe.unreadable").exists()
