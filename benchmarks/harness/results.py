"""What a benchmark report records beside its numbers (date, machine, versions), and the
Markdown section it writes into a hand-written document.

Every file goes through `mgpn_keras.atomic` (a killed run leaves the old file, never half a
new one): callers write their JSON with `atomic.write_json`, `write_markdown_section` with
`atomic.write_text`, imported inside it so that the rest of the module needs only the
standard library.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys

NO_GPU = "none (CPU only; no GPU was available for this run)"


def utc_now() -> str:
    """The report's date: "YYYY-MM-DD HH:MM UTC"."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_info(gpu: str = NO_GPU) -> dict:
    """The CPU model (lscpu), core count, memory, platform and `gpu` (a description)."""
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            memory_gb = round(int(f.readline().split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cpu_cores": os.cpu_count(), "memory_gib": memory_gb,
            "platform": platform.platform(), "gpu": gpu}


_VERSIONS = ("import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; import json, numpy, "
             "tensorflow as tf, keras; print(json.dumps({'tensorflow': tf.__version__, 'keras': "
             "keras.__version__, 'numpy': numpy.__version__}))")


def versions(cwd: str | None = None) -> dict:
    """TensorFlow, Keras, NumPy and Python versions of this interpreter. Read in a child
    process unless TensorFlow is imported here already, so that a benchmark's parent process,
    which only starts the measuring workers, never loads TensorFlow itself."""
    if "tensorflow" in sys.modules:
        import keras
        import numpy
        import tensorflow as tf

        info = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": numpy.__version__}
    else:
        out = subprocess.run([sys.executable, "-c", _VERSIONS], capture_output=True, text=True,
                             timeout=300, cwd=cwd)
        info = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
    info["python"] = platform.python_version()
    return info


def write_markdown_section(path: str, text: str, begin: str, end: str) -> None:
    """Put `text` between the marker lines `begin` and `end` of the Markdown file `path`,
    keeping what is outside them; the section is appended where the markers are missing (a
    new file gets a "# Benchmarks" title)."""
    from mgpn_keras.atomic import write_text

    block = f"{begin}\n{text}{end}\n"
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + block + tail
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "# Benchmarks\n\n") + block
    write_text(path, new)
