"""Packaging (issue 11): version, a light `import dance2d`, `from dance2d import Dance2D`, progress bars only on
a terminal."""

import importlib.metadata
import io
import subprocess
import sys

import pytest
from conftest import click_track

import dance2d
from dance2d.cli import main


def test_version_matches_the_package_metadata(capsys):
    assert dance2d.__version__ == importlib.metadata.version("dance2d")
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"dance2d {dance2d.__version__}"


def test_import_is_light_and_dance2d_is_lazy():
    code = ("import sys, dance2d; light = 'torch' not in sys.modules; from dance2d import Dance2D, PoseSequence; "
            "print(light, Dance2D.__module__, PoseSequence.__module__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "dance2d.pipeline", "dance2d.pose.sequence", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        dance2d.Nope  # noqa: B018


def test_version_and_help_answer_without_loading_torch():
    """The parser gives only the named sub-command its arguments, whose defaults import numpy, scipy and torch."""
    code = ("import sys; from dance2d.cli import main\n"
            "for argv in (['--version'], ['--help']):\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            "print('torch' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["False", "False"]
    with pytest.raises(SystemExit):
        main(["generate", "--help"])  # the sub-command's own help still lists its options


def test_generate_help_lists_the_bundled_settings_and_survives_a_missing_model(monkeypatch, capsys, tmp_path):
    """`generate --help` names each bundled model's own smoothing, guidance and beat accent, read from the files;
    a bundled file that is missing leaves it out instead of breaking every `generate` command line."""
    from dance2d import pipeline
    from dance2d.checkpoint import read_config

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    raw = pipeline.model_settings(read_config(pipeline.bundled_model_path("raw")))
    onehot = pipeline.model_settings(read_config(pipeline.bundled_model_path("onehot")))
    assert f"{raw['smooth']:g} for raw" in text and f"{raw['beat_accent']:g} for raw" in text and "for onehot" in text
    assert f"{raw['dynamics']:g} for raw, {onehot['dynamics']:g} for onehot" in text  # each model's own strength
    real = pipeline.bundled_model_path
    monkeypatch.setattr(pipeline, "bundled_model_path",
                        lambda name="raw": tmp_path / "gone.safetensors" if name == "onehot" else real(name))
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{raw['smooth']:g} for raw" in text and "for onehot" not in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty, quiet", [(True, False), (False, False), (True, True)])
def test_progress_bars_only_on_a_terminal(tmp_path, tiny_checkpoint, monkeypatch, capsys, tty, quiet):
    song = click_track(tmp_path / "song.wav", 2.0)
    err = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    rc = main(["generate", str(song), "--model", str(tiny_checkpoint), "--steps", "1", "--out",
               str(tmp_path / "out")] + (["--quiet"] if quiet else []))
    assert rc == 0
    text = err.getvalue()
    bars = [name for name in ("music features", "generate", "render") if f"{name}:" in text]
    assert bars == (["music features", "generate", "render"] if tty and not quiet else []), text[-500:]
