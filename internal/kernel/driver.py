# Executes one notebook with nbconvert's ExecutePreprocessor (the engine of
# `jupyter nbconvert --to notebook --execute`), stopping at the first failing cell, and ALWAYS writes
# the (possibly partial) executed notebook, which `jupyter nbconvert` does not do on a failure.
# Usage: python3 driver.py IN.ipynb OUT.ipynb KERNEL_NAME TIMEOUT_SECONDS
# The last line on stdout is a JSON status: {"ok": bool, "cell": index or -1, "kind": str, "message": str,
# "seconds": {cell index: wall seconds}}.
# Exit status: 0 ok, 1 a cell failed or timed out, 3 nbconvert/nbformat missing, 2 bad usage.
import json
import os
import signal
import sys
import time

try:
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor
except ImportError as e:  # pragma: no cover
    print(json.dumps({"ok": False, "cell": -1, "kind": "missing", "message": "%s (python: %s)" % (e, sys.executable)}))
    sys.exit(3)


class Executor(ExecutePreprocessor):
    """Remembers which cell is running, so a failure names it."""

    current = -1
    seconds = None  # cell index -> wall seconds measured here (the kernel's timestamps are whole seconds)

    def preprocess_cell(self, cell, resources, index):
        self.current = index
        start = time.monotonic()
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            if cell.get("cell_type") == "code":
                self.seconds[str(index)] = time.monotonic() - start


def main():
    if len(sys.argv) != 5:
        print(json.dumps({"ok": False, "cell": -1, "kind": "usage", "message": "usage: driver.py IN OUT KERNEL TIMEOUT"}))
        return 2
    src, dst, kernel, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nb = nbformat.read(src, as_version=4)
    ep = Executor(timeout=timeout, kernel_name=kernel, record_timing=True)
    ep.seconds = {}
    status = {"ok": True, "cell": -1, "kind": "", "message": ""}
    # mlkit-kernel sends SIGTERM when it is interrupted: unwind through nbclient's cleanup, which kills
    # the kernel's process group (kernel and running cell), and still save the partial notebook.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        ep.preprocess(nb, {"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
    except KeyboardInterrupt:
        status = {"ok": False, "cell": ep.current, "kind": "Interrupted", "message": "interrupted while running cell %d" % ep.current}
    except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError, kernel start failures...
        msg = str(e)
        if len(msg) > 4000:
            msg = msg[:4000] + "\n[...]"
        status = {"ok": False, "cell": ep.current, "kind": type(e).__name__, "message": msg}
    status["seconds"] = ep.seconds
    nbformat.write(nb, dst)
    print(json.dumps(status))
    return 0 if status["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
