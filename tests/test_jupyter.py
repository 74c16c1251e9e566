"""The notebooks' cell magics: what a cell prints is shown as HTML or Markdown."""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from lessons import jupyter


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "lessons.jupyter")
    yield shell
    InteractiveShell.clear_instance()


def run(shell, cell: str):
    """Run a cell; its result and what it showed."""
    with capture_output() as shown:
        result = shell.run_cell(cell)
    return result, shown


def test_html_output_shows_the_printed_html(shell):
    result, shown = run(shell, '%%html_output\nprint("<b>fett</b>")')
    assert result.success
    assert [output.data["text/html"] for output in shown.outputs] == [
        jupyter.STYLE + "<b>fett</b>\n"
    ]
    assert shown.stdout == ""  # shown as HTML, not printed as text


def test_markdown_output_shows_the_printed_markdown(shell):
    result, shown = run(shell, '%%markdown_output\nprint("| a |\\n|---|\\n| 1 |")')
    assert result.success
    assert [output.data["text/markdown"] for output in shown.outputs] == ["| a |\n|---|\n| 1 |\n"]


def test_a_cell_that_prints_nothing_shows_nothing(shell):
    result, shown = run(shell, "%%html_output\nquiet = 1")
    assert result.success
    assert shown.outputs == []


def test_cells_share_the_kernel_namespace(shell):
    run(shell, "%%markdown_output\nshared = 41")
    result, _ = run(shell, "shared + 1")
    assert result.result == 42


def test_an_error_fails_the_cell(shell):
    result, shown = run(shell, '%%html_output\nprint("<p>half</p>")\nraise ValueError("broken")')
    assert isinstance(result.error_in_exec, ValueError)
    assert shown.outputs == []  # nothing half-done is shown
