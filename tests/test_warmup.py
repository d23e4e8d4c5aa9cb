"""portal.warmup: a new worker process makes its storage client before its first task."""

from __future__ import annotations

import logging

from django_q.signals import post_spawn

from portal import warmup


class FakeS3Storage:
    def __init__(self, *, broken: bool = False):
        self.made = 0
        self.broken = broken

    @property
    def connection(self):
        self.made += 1
        if self.broken:
            raise ConnectionError("endpoint unreachable")
        return object()


def test_it_makes_the_storage_client_when_a_worker_spawns(monkeypatch):
    storage = FakeS3Storage()
    monkeypatch.setattr(warmup, "default_storage", storage)
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert storage.made == 1


def test_it_leaves_local_storage_alone(monkeypatch, tmp_path):
    from django.core.files.storage import FileSystemStorage

    monkeypatch.setattr(warmup, "default_storage", FileSystemStorage(location=tmp_path))
    warmup.storage_client(proc_name="Process-1")  # no connection to make, nothing raised


def test_it_never_stops_a_worker_from_starting(monkeypatch, caplog):
    monkeypatch.setattr(warmup, "default_storage", FakeS3Storage(broken=True))
    with caplog.at_level(logging.WARNING, logger="portal.warmup"):
        warmup.storage_client(proc_name="Process-1")
    assert "could not prepare the storage client in Process-1" in caplog.text
