"""Mutation testing of one module at a time, against only the tests that exercise it (docs/TESTING.md).

    python tools/mutation.py MODULE            a fresh run: every mutant of MODULE (mutants/ is made anew)
    python tools/mutation.py MODULE retest     rerun only the mutants the last run left alive (after adding tests)
    python tools/mutation.py MODULE continue   go on with a run that was stopped (Ctrl+C) where it stopped
    python tools/mutation.py MODULE score      killed / total of the last run, and the names of the survivors
    python tools/mutation.py MODULE show NAME  the change one mutant makes (also: results, browse, apply)

mutmut 3 reads its settings from pyproject.toml ([tool.mutmut]: the whole of core/ and gui/backends_model.py
against tests/core and the model's tests). This script narrows them to one module and the test files listed
below, then hands the command to mutmut. mutmut copies the tree into mutants/ (git-ignored) and keeps its results
there, for one module at a time: a change of test selection makes it forget every result anyway.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = "backend_manager_gui"
# a mutant that made the tests fail, hang (a timeout) or crash the test process (a "segfault": Qt aborting on
# an invalid index, or mutmut's kill at the CPU limit) was caught
CAUGHT = ("killed", "timeout", "segfault")
MAX_CHILDREN = os.environ.get("MUTMUT_MAX_CHILDREN", "2")

# module -> (its file, the test files that exercise it). The slow end-to-end tests (tests/reliability) stay out.
MODULES: dict[str, tuple[str, list[str]]] = {
    "models": ("core/models.py", ["tests/core/test_models.py", "tests/core/test_list_decoder.py"]),
    "list_decoder": ("core/list_decoder.py", ["tests/core/test_list_decoder.py", "tests/core/test_models.py"]),
    "store": ("core/local/store.py", ["tests/core/local/test_store_file.py", "tests/core/local/test_store.py",
                                      "tests/core/local/test_data_dir_lock.py"]),
    "backends_model": ("gui/backends_model.py", ["tests/gui/test_backends_model.py",
                                                "tests/gui/test_backends_model_cells.py",
                                                "tests/gui/test_backends_model_hosts.py",
                                                "tests/gui/test_backends_model_mutants.py"]),
    "remote": ("core/remote.py", ["tests/core/test_remote.py", "tests/core/test_remote_secrets.py",
                                  "tests/core/test_remote_messages.py", "tests/core/test_remote_logs.py"]),
    "process": ("core/local/process.py", ["tests/core/local/test_process_mutants.py",
                                          "tests/core/local/test_supervision.py",
                                          "tests/core/local/test_polite_stop.py", "tests/core/local/test_orphans.py",
                                          "tests/core/local/test_types.py", "tests/core/local/test_comfy_workers.py",
                                          "tests/core/local/test_lifecycle.py"]),
}


def _results(path: str) -> dict[str, str]:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    data = SourceFileMutationData(path=f"{PKG}/{path}")
    data.load()
    return {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}


def _score(module: str, path: str) -> None:
    results = _results(path)
    if not results:
        print(f"{module}: no results in mutants/ (run it first)")
        return
    alive = sorted(name for name, status in results.items() if status not in CAUGHT)
    killed = len(results) - len(alive)
    how = {s: sum(status == s for status in results.values()) for s in CAUGHT[1:]}
    print(f"{module}: {killed} / {len(results)} killed ({100 * killed / len(results):.1f} %)"
          + "".join(f", {n} of them by a {s}" for s, n in how.items() if n))
    for name in alive:
        print(f"    {name}: {results[name]}")


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in MODULES:
        sys.exit(__doc__.split("\n\n")[1] + f"\nMODULE is one of: {', '.join(MODULES)}")
    module, rest = argv[0], argv[1:] or ["run"]
    path, tests = MODULES[module]
    os.chdir(ROOT)  # mutmut reads pyproject.toml and writes mutants/ in the current folder

    import mutmut.configuration

    cfg = mutmut.configuration.config()
    cfg.only_mutate = [f"{PKG}/{path}"]
    cfg.pytest_add_cli_args_test_selection = tests

    if rest[0] == "score":
        _score(module, path)
        return
    if rest == ["run"]:
        shutil.rmtree("mutants", ignore_errors=True)
        rest = ["run", "--max-children", MAX_CHILDREN]
    elif rest == ["continue"]:
        rest = ["run", "--max-children", MAX_CHILDREN]
    elif rest == ["retest"]:
        (Path("mutants") / PKG / path).unlink(missing_ok=True)  # made again: a plain copy would not be mutated
        alive = [name for name, status in _results(path).items() if status not in CAUGHT]
        if not alive:
            _score(module, path)
            return
        rest = ["run", "--max-children", MAX_CHILDREN, *alive]

    from mutmut.__main__ import cli

    cli.main(rest, prog_name="mutmut", standalone_mode=False)
    if rest[0] == "run":
        _score(module, path)


if __name__ == "__main__":
    main(sys.argv[1:])
