"""The line every command prints about the files it wrote."""
import os

from rnnkit.cli.output import print_written


def test_print_written_names_the_folder_then_each_file_by_its_name(capsys):
    print_written(os.path.join("runs", "demo"), [os.path.join("runs", "demo", "model.rnnkit"),
                                                 os.path.join("runs", "demo", "history.png")])
    assert capsys.readouterr().out == f"wrote {os.path.join('runs', 'demo')}: model.rnnkit, history.png\n"
