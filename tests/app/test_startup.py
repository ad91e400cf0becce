"""Start-up (issue 14): the CLI answers --help and lists plugins without importing the heavy libraries."""

import subprocess
import sys

HEAVY = ("torch", "torchvision", "faiss", "umap", "sklearn", "hdbscan", "cv2", "numba")


def _imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint('imported:', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[1:]


def test_importing_the_cli_imports_no_heavy_library():
    assert _imported_after("import reid.app.main") == []


def test_help_and_the_plugin_list_need_no_heavy_library():
    run = "from reid.app.entry import main\nsys.argv = ['reid', {!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass"
    assert _imported_after(run.format("--help")) == []
    assert _imported_after(run.format("plugins")) == []


def test_every_help_text_needs_neither_numpy_nor_pillow():
    """Help is read often and must come at once: no plugin is loaded for it, and no image or array library."""
    run = "from reid.app.entry import main\nsys.argv = ['reid', *{!r}, '--help']\ntry:\n    main()\nexcept SystemExit:\n    pass"
    probe = "\nprint('imported:', *(m for m in ('numpy', 'PIL') if m in sys.modules))"
    for command in ([], ["classify"], ["cluster"], ["train", "metric"], ["dataset", "manga109"]):
        done = subprocess.run([sys.executable, "-c", "import sys\n" + run.format(command) + probe], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "imported:", (command, done.stderr)
