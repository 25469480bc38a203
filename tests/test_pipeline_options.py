"""Beam pipeline options: how many threads a local worker process may use."""

import os

import pytest

pytest.importorskip("apache_beam")

from mgpn_keras.pipelines.options import local_worker_threads  # noqa: E402


def test_local_workers_share_the_cores_and_others_keep_the_libraries_choice():
    cores = os.cpu_count() or 1
    assert local_worker_threads(None, 2) == max(1, cores // 2)
    assert local_worker_threads("DirectRunner", cores * 4) == 1  # never below one thread
    # One worker has the machine; another runner's workers have their own machines.
    assert local_worker_threads(None, None) == local_worker_threads("DirectRunner", 1) == 0
    assert local_worker_threads("DataflowRunner", 8) == 0
