"""benchmarks/harness: the worker protocol, the choice among disturbed attempts, timed calls and
the Markdown section (no TensorFlow: the scripts' own tests run the models)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from harness import quiet  # noqa: E402
from harness.results import write_markdown_section  # noqa: E402
from harness.timing import time_calls  # noqa: E402
from harness.worker import Worker, run_batch  # noqa: E402

WORKER = """
import sys
sys.path.insert(0, {benchmarks!r})
from harness.worker import serve

def handle(request):
    print("the work's own output")  # must not be taken for a reply
    if request.get("raise"):
        raise ValueError("bad request")
    if request.get("exit"):
        sys.exit(3)
    return {{"twice": 2 * request["x"]}}

soft = "--soft" in sys.argv
sys.exit(serve(handle, on_error=(lambda r, e: {{"error": str(e)}}) if soft else None))
"""


@pytest.fixture
def worker_argv(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(benchmarks=str(Path(__file__).resolve().parents[1] / "benchmarks")))
    return [sys.executable, str(script)]


def test_run_batch_replies_in_order_and_reports_errors(worker_argv):
    replies = run_batch(worker_argv + ["--soft"], [{"x": 1}, {"raise": True}, {"x": 3}], 60)
    assert replies == [{"twice": 2}, {"error": "bad request"}, {"twice": 6}]


def test_run_batch_names_what_killed_the_worker(worker_argv):
    replies = run_batch(worker_argv, [{"x": 1}, {"exit": True}, {"x": 3}], 60,
                        on_failure=lambda request, message: {"failed": request, "why": message})
    assert replies[0] == {"twice": 2}
    assert [r["failed"] for r in replies[1:]] == [{"exit": True}, {"x": 3}]
    assert all(r["why"].startswith("worker exited with 3") for r in replies[1:])
    with pytest.raises(RuntimeError, match="worker exited with 3"):
        run_batch(worker_argv, [{"exit": True}], 60)
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    assert run_batch(slow, [{"x": 1}], 0.5, on_failure=lambda r, m: m) == ["timed out after 0 s"]


def test_worker_keeps_one_process_for_many_requests(worker_argv):
    worker = Worker(worker_argv)
    try:
        assert [worker({"x": k})["twice"] for k in range(3)] == [0, 2, 4]
        pid = worker.process.pid
        assert worker({"x": 5}) == {"twice": 10} and worker.process.pid == pid
    finally:
        worker.close()
    assert worker.process.returncode == 0


def test_least_disturbed_retries_while_busy_and_keeps_the_quietest(monkeypatch):
    contention = iter([1.5, 0.8, 1.2])
    monkeypatch.setattr(quiet, "with_other_processes", lambda run: dict(
        run(), other_processes_cores=next(contention)))
    result = quiet.least_disturbed(lambda: {"median_s": 1.0, "cpu_s": 2.0}, retries=2,
                                   quiet_below=0.3, max_wait=0)
    assert result["other_processes_cores"] == 0.8
    assert [a["other_processes_cores"] for a in result["attempts"]] == [1.5, 0.8, 1.2]
    assert result["busy_cores_before"] is None

    contention = iter([1.5, 0.1, 2.0])  # quiet on the second attempt: no third
    result = quiet.least_disturbed(lambda: {"median_s": 1.0}, retries=2, quiet_below=0.3, max_wait=0)
    assert result["other_processes_cores"] == 0.1 and len(result["attempts"]) == 2

    contention = iter([1.5, 0.1])  # an error ends the retries
    result = quiet.least_disturbed(lambda: {"error": "x"}, retries=2, quiet_below=0.3, max_wait=0)
    assert result["error"] == "x" and "attempts" not in result


def test_time_calls_counts_warm_ups_apart():
    calls = []
    timed = time_calls(lambda: calls.append(1), warmup=2, iterations=3)
    assert len(calls) == 5 and len(timed["seconds"]) == 5
    assert timed["min_s"] <= timed["median_s"] <= timed["max_s"]
    assert timed["median_s"] in timed["seconds"][2:]


def test_markdown_section_replaces_only_its_block(tmp_path):
    path = tmp_path / "doc.md"
    write_markdown_section(str(path), "first\n", "<!-- a -->", "<!-- b -->")
    assert path.read_text() == "# Benchmarks\n\n<!-- a -->\nfirst\n<!-- b -->\n"
    path.write_text("# Title\n\nbefore\n\n<!-- a -->\nold\n<!-- b -->\n\nafter\n")
    write_markdown_section(str(path), "new\n", "<!-- a -->", "<!-- b -->")
    assert path.read_text() == "# Title\n\nbefore\n\n<!-- a -->\nnew\n<!-- b -->\nafter\n"
