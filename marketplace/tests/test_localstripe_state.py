"""The development Stripe server keeps its state in this checkout (--keep-data), and a state
file it cannot read (written by another version of its classes) does not stop it."""

import pickle
import warnings

import pytest


@pytest.fixture
def localstripe():
    """The server module, imported here: localstripe registers its routes at import, and
    aiohttp warns about their style (the suite otherwise runs it as its own process)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from marketplace import localstripe_server
    return localstripe_server


def test_state_is_saved_beside_the_checkout_and_read_back(tmp_path, monkeypatch, localstripe):
    store = localstripe.store
    monkeypatch.setattr(store, "dump_to_disk", store.dump_to_disk)  # restored afterwards
    path = tmp_path / "var" / "localstripe-8499.pickle"
    saved = dict(store)
    try:
        store.clear()
        localstripe._keep_state_in(path)
        store["customer:cus_1"] = {"id": "cus_1"}
        assert pickle.loads(path.read_bytes()) == {"customer:cus_1": {"id": "cus_1"}}
        store.clear()
        localstripe._keep_state_in(path)
        assert store["customer:cus_1"] == {"id": "cus_1"}
    finally:
        store.clear()
        store.update(saved)


def test_an_unreadable_state_file_is_set_aside_and_the_server_starts_empty(
    tmp_path, monkeypatch, caplog, localstripe
):
    store = localstripe.store
    monkeypatch.setattr(store, "dump_to_disk", store.dump_to_disk)
    path = tmp_path / "localstripe-8499.pickle"
    path.write_bytes(b"written by another checkout's classes")
    saved = dict(store)
    try:
        store.clear()
        localstripe._keep_state_in(path)
        assert dict(store) == {}
        assert not path.exists() and path.with_suffix(".unreadable").exists()
        assert "starting with no Stripe objects" in caplog.text
    finally:
        store.clear()
        store.update(saved)
