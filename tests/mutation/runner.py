"""The mutation runner: every mutant of tests/mutation/catalogue.py against the tests that should kill it.

`python -m tests.mutation.runner` from the checkout (`make mutation`); `--check` only validates the catalogue.
The working tree is never changed. Each worker copies the checkout's files to a temporary directory, imports the
heavy test dependencies and pytest's plugins once and compiles the copy (most of a pytest start), then per mutant
writes the mutant into its copy, forks a child that runs pytest on the listed tests with the copy first on the path,
and restores the file. The child checks that `ondemand` is imported from the copy. The run stops unless the unmutated
selection passes and a sanity mutant is killed on every worker. A test that runs past --timeout (a mutant that loops)
kills its mutant. Exits non-zero if any behaviour-changing mutant survives, if a mutant marked equivalent is killed
(then it was not equivalent), or if a run ends in anything but a pass or a failure.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import py_compile
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.mutation.catalogue import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
IMPORT_ROOTS = ("functions", ".", "frontend/dashboard")
"""The copy's import roots, in pyproject.toml's order (packages.find `where`)."""
PYTEST_ARGS = (
    *("-x", "-q", "--no-header", "-rfE", "--assert=plain"),  # pass or fail is all a verdict needs: no rewriting
    *("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-p", "no:unraisableexception"),
)
PRELOAD = (
    "pytest",
    "pandas",
    "boto3",
    "moto",
    "pynamodb.models",
    "aws_lambda_powertools.event_handler",
    "hypothesis",
    "cfnlint.decode.cfn_yaml",
    "jsonschema",
    "requests",
)
"""Imported by each worker before it forks (none of them imports the project), with pytest's plugins: what most of a
pytest start costs."""
SANITY = Mutant(
    id="sanity",
    file="functions/ondemand/phones.py",
    original="    return compact\n",
    replacement='    return compact + "0"\n',
    description="every canonical number gains a digit: must be killed, or the tests do not run the mutated copy",
    tests=("tests/unit/lifecycle/test_lifecycle_phones.py::test_every_spelling_of_one_number_is_the_same_key",),
)
WRONG_IMPORT = 90
"""The child's exit code when `ondemand` came from somewhere else than the copy."""
CHILD_CRASHED = 91


# ----- the catalogue -----


def mutated(text: str, mutant: Mutant) -> str:
    return text.replace(mutant.original, mutant.replacement, 1)


def catalogue_problems(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Everything that makes a stale or broken catalogue: a snippet not found exactly once, a mutant that does not
    compile or changes nothing, a duplicate id, a test file that does not exist."""
    problems = []
    for mutant_id, count in Counter(m.id for m in mutants).items():
        if count > 1:
            problems.append(f"{mutant_id}: the id is used {count} times")
    for mutant in mutants:
        path = root / mutant.file
        if not path.is_file():
            problems.append(f"{mutant.id}: {mutant.file} does not exist")
            continue
        if not mutant.tests and not mutant.equivalent:
            problems.append(f"{mutant.id}: names no test that should kill it")
        for test in mutant.tests:
            if not (root / test.split("::")[0]).is_file():
                problems.append(f"{mutant.id}: no test file {test.split('::')[0]}")
        text = path.read_text()
        found = text.count(mutant.original)
        if found != 1:
            problems.append(f"{mutant.id}: the snippet is found {found} times in {mutant.file}, not once")
            continue
        if mutant.original == mutant.replacement:
            problems.append(f"{mutant.id}: the replacement is the original")
        try:
            compile(mutated(text, mutant), mutant.file, "exec")
        except SyntaxError as exc:
            problems.append(f"{mutant.id}: the mutated file does not compile: {exc}")
    return problems


# ----- a worker: one copy of the checkout, one mutant at a time -----


def copy_checkout(destination: Path) -> None:
    """The files git tracks, and the new ones it does not ignore, as they are in the working tree."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but venvs and caches
        skipped = (".git", ".venv*", "node_modules", "var", "__pycache__", ".*cache", ".hypothesis")
        shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*skipped), dirs_exist_ok=True)
        return
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def preload(copy: Path) -> None:
    """Import the heavy dependencies and pytest's plugins, and compile the copy's modules: a child then only compiles
    its mutated module."""
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for plugin in importlib.metadata.entry_points(group="pytest11"):
        with contextlib.suppress(Exception):
            plugin.load()
    for root in ("functions", "tests", "frontend"):
        compileall.compile_dir(copy / root, quiet=1)
    with contextlib.suppress(ImportError):
        import boto3
        from moto import mock_aws

        with mock_aws():  # loads moto's DynamoDB backend and botocore's service model once
            boto3.client("dynamodb", region_name="us-east-1").list_tables()
    loaded = [name for name in sys.modules if name == "ondemand" or name.startswith("ondemand.")]
    if loaded:
        raise RuntimeError(f"the worker imported the project before forking: {loaded}")


def run_child(copy: Path, tests: list[str], log: Path, timeout: float) -> None:
    """In the forked child: pytest on the copy, output to `log`; never returns."""
    code = CHILD_CRASHED
    try:
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.dont_write_bytecode = True  # the mutated module is compiled from source and never cached
        os.chdir(copy)
        import ondemand
        import pytest

        where = Path(ondemand.__file__).resolve()
        if not where.is_relative_to(copy.resolve()):
            print(f"ondemand was imported from {where}, not from the copy {copy}")
            code = WRONG_IMPORT
        else:
            timeout_args = [f"--timeout={timeout:g}"] if importlib.util.find_spec("pytest_timeout") else []
            code = int(pytest.main([*PYTEST_ARGS, *timeout_args, *tests]))
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def wait_for(pid: int, limit: float) -> int | None:
    """The child's exit code, or None if it ran past `limit` seconds (then it is killed)."""
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


def run_task(copy: Path, logs: Path, task: dict[str, Any]) -> dict[str, Any]:
    """One pytest run on `copy`, with the task's mutant applied (none for a baseline) and restored after."""
    path = copy / task["file"] if task.get("file") else None
    original = path.read_text() if path else ""
    log = logs / f"{task['id']}.log"
    started = time.monotonic()
    cached = Path(importlib.util.cache_from_source(str(path))) if path else None
    try:
        if path and cached:
            path.write_text(original.replace(task["original"], task["replacement"], 1))
            cached.unlink(missing_ok=True)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run_child(copy, task["tests"], log, task["timeout"])
        code = wait_for(pid, task.get("limit", task["timeout"] + 60))
    finally:
        if path and cached:
            path.write_text(original)
            py_compile.compile(str(path), cfile=str(cached), doraise=True)
    text = log.read_text(errors="replace") if log.exists() else ""
    summary = text.rpartition("short test summary info")[2].splitlines()
    failed = [line.split()[1] for line in summary if line.startswith(("FAILED ", "ERROR "))]
    timed_out = code is None or "Timeout (>" in text
    seconds = time.monotonic() - started
    return {
        "id": task["id"],
        "code": code,
        "timed_out": timed_out,
        "seconds": seconds,
        "failed": failed,
        "log": str(log),
    }


def serve(copy: Path) -> None:
    """The worker process: tasks as JSON lines on stdin, results as JSON lines on stdout."""
    preload(copy)
    logs = copy.parent / f"{copy.name}-logs"
    logs.mkdir(exist_ok=True)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(run_task(copy, logs, json.loads(line))), flush=True)


class Worker:
    """The runner's handle on one worker process."""

    def __init__(self, tmp: Path, number: int) -> None:
        self.copy = tmp / f"worker-{number}"
        self.copy.mkdir()
        copy_checkout(self.copy)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str((self.copy / root).resolve()) for root in IMPORT_ROOTS),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        self.stderr = open(tmp / f"worker-{number}.stderr", "w")  # noqa: SIM115 (open for the process's life)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.mutation.runner", "--serve", str(self.copy)],
            cwd=self.copy,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self._read()  # {"ready": true} once the preload is done

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.copy.name} died; see {self.stderr.name}")
        return json.loads(line)

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


# ----- the run -----


def task_of(mutant: Mutant, timeout: float) -> dict[str, Any]:
    return {**asdict(mutant), "tests": list(mutant.tests), "timeout": timeout}


def outcome(result: dict[str, Any]) -> str:
    """pytest's exit code as a verdict: 1 (a test failed) or 2 (collection failed) kill, 0 survives."""
    code = result["code"]
    if result["timed_out"] and code in (None, 1):
        return "killed (timeout)"
    return {0: "survived", 1: "killed", 2: "killed"}.get(code, f"error (exit {code})")


def run_all(workers: list[Worker], tasks: list[dict[str, Any]], label: str) -> dict[str, dict[str, Any]]:
    """Run `tasks` on the workers in parallel, printing one line per finished task."""
    todo: queue.Queue[dict[str, Any]] = queue.Queue()
    for task in tasks:
        todo.put(task)
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def drain(worker: Worker) -> None:
        while True:
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            result = worker.run(task)
            with lock:
                results[task["id"]] = result
                killer = f"  <- {result['failed'][0]}" if result["failed"] else ""
                verdict = outcome(result) if label == "mutant" else "passed" if result["code"] == 0 else "failed"
                print(
                    f"[{label} {len(results):>3}/{len(tasks)}] {verdict:<17} {task['id']:<44} "
                    f"{result['seconds']:5.1f}s{killer}",
                    flush=True,
                )

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def baseline_tasks(mutants: list[Mutant], workers: int, timeout: float) -> list[dict[str, Any]]:
    """The union of the listed tests, unmutated, split by file over the workers."""
    tests = sorted({test for mutant in [SANITY, *mutants] for test in mutant.tests})
    by_file: dict[str, list[str]] = defaultdict(list)
    for test in tests:
        by_file[test.split("::")[0]].append(test)
    shares: list[list[str]] = [[] for _ in range(workers)]
    for file, file_tests in sorted(by_file.items(), key=lambda item: -len(item[1])):
        min(shares, key=len).extend([file] if file in file_tests else file_tests)
    return [
        {"id": f"baseline-{n}", "file": None, "tests": share, "timeout": timeout, "limit": 1800}
        for n, share in enumerate(shares)
        if share
    ]


def cpu_model() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        for line in subprocess.run(["lscpu"], check=True, capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def report(mutants: list[Mutant], results: dict[str, dict[str, Any]]) -> int:
    """The table per file, every survivor and every equivalent with its reason; the exit code."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    survivors, wrongly_equivalent, errors = [], [], []
    for mutant in mutants:
        verdict = outcome(results[mutant.id]) if mutant.id in results else "not run"
        row = rows[mutant.file]
        if mutant.equivalent:
            row["equivalent"] += 1
            if verdict.startswith("killed"):
                wrongly_equivalent.append((mutant, results[mutant.id]["failed"]))
        elif verdict.startswith("killed"):
            row["killed"] += 1
        elif verdict == "survived":
            row["survived"] += 1
            survivors.append(mutant)
        else:
            row["error"] += 1
            errors.append((mutant, verdict, results.get(mutant.id, {}).get("log")))
    print(f"\n{'file':<48} {'mutants':>7} {'killed':>7} {'survived':>9} {'equivalent':>11}")
    for file, row in sorted(rows.items()):
        print(f"{file:<48} {row.total():>7} {row['killed']:>7} {row['survived']:>9} {row['equivalent']:>11}")
    total = sum(rows.values(), Counter())
    print(f"{'total':<48} {total.total():>7} {total['killed']:>7} {total['survived']:>9} {total['equivalent']:>11}")
    equivalents = [mutant for mutant in mutants if mutant.equivalent]
    if equivalents:
        print("\nEquivalent (run; expected to survive):")
        for mutant in equivalents:
            print(f"  {mutant.id} ({mutant.file}): {mutant.description}")
            print(f"      why it changes nothing: {mutant.equivalent}")
    for mutant in survivors:
        print(f"SURVIVED {mutant.id} ({mutant.file}): {mutant.description}")
    for mutant, killers in wrongly_equivalent:
        print(f"MARKED EQUIVALENT BUT KILLED {mutant.id} by {', '.join(killers) or 'a timeout'}: it changes behaviour")
    for mutant, verdict, log in errors:
        print(f"ERROR {mutant.id}: {verdict}; log: {log}")
    return 1 if survivors or wrongly_equivalent or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--only", nargs="+", default=[], help="run only these mutant ids (or id prefixes)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one test may take (default 30)")
    parser.add_argument("--check", action="store_true", help="only validate the catalogue")
    parser.add_argument("--keep", action="store_true", help="keep the copies and the pytest logs")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0

    started = time.monotonic()
    mutants = [m for m in MUTANTS if not args.only or any(m.id.startswith(prefix) for prefix in args.only)]
    problems = catalogue_problems([SANITY, *MUTANTS])
    if problems:
        print("The catalogue does not match the code:\n  " + "\n  ".join(problems))
        return 2
    print(f"{len(MUTANTS)} mutants in the catalogue, {sum(bool(m.equivalent) for m in MUTANTS)} marked equivalent")
    if args.check or not mutants:
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="mutation-"))
    workers: list[Worker] = []
    try:
        workers = [Worker(tmp, number) for number in range(args.workers)]
        baseline = run_all(workers, baseline_tasks(mutants, len(workers), args.timeout), "baseline")
        broken = [result for result in baseline.values() if result["code"] != 0]
        if broken:
            for result in broken:
                print(f"\nThe unmutated tests do not pass (pytest exit {result['code']}); {result['log']}:")
                print(Path(result["log"]).read_text(errors="replace")[-4000:])
            args.keep = True
            return 2
        sanity = [worker.run(task_of(SANITY, args.timeout) | {"id": f"sanity-{n}"}) for n, worker in enumerate(workers)]
        if any(outcome(result) != "killed" for result in sanity):
            print(f"The sanity mutant was not killed on every worker: {sanity}")
            args.keep = True
            return 2
        print(f"baseline passed; the sanity mutant was killed on each of {len(workers)} workers")
        results = run_all(workers, [task_of(m, args.timeout) for m in mutants], "mutant")
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.close()
        if args.keep:
            print(f"copies and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    code = report(mutants, results)
    elapsed = time.monotonic() - started
    cores = os.cpu_count()
    print(f"\n{elapsed / 60:.1f} min ({elapsed:.0f} s) on {cpu_model()}, {cores} cores, {args.workers} workers")
    print(f"command: {shlex.join([Path(sys.executable).name, '-m', 'tests.mutation.runner', *sys.argv[1:]])}")
    return code


if __name__ == "__main__":
    sys.exit(main())
