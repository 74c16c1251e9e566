"""In Jupyter and Colab: show what the lesson code prints as HTML or Markdown, as the pages do.

On the site, markdown-exec puts what a code block prints into the page as HTML (figures and
tables from ``lessons.plots``) or as Markdown. In a notebook a print shows raw text, so the
notebooks (``lessons.notebooks``) load this IPython extension in their first cell and put a
cell magic on such cells; the code itself stays as on the page::

    %load_ext lessons.jupyter

    %%html_output
    print(plots.text_table([("a", 1)], headers=("Token", "Anzahl")))
"""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell
from IPython.display import HTML, Markdown, display
from IPython.utils.capture import capture_output

# The site's stylesheet is not in a notebook: the few rules whose look carries meaning
# (where one token ends and the next begins; figures on white, as matplotlib draws them).
STYLE = (
    "<style>"
    ".token-pieces span{display:inline-block;margin:0.1em;padding:0 0.2em;border-radius:0.2em;"
    "background:rgba(92,107,192,0.16);font-family:monospace}"
    ".token-pieces span:nth-child(even){background:rgba(232,163,61,0.3)}"
    ".lesson-figure svg{max-width:100%;height:auto;background:#fff}"
    "</style>"
)


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the cell magics ``%%html_output`` and ``%%markdown_output``."""

    def html_output(line: str, cell: str) -> None:
        """Run the cell and show what it printed as HTML."""
        text = printed(ipython, cell)
        if text:
            display(HTML(STYLE + text))

    def markdown_output(line: str, cell: str) -> None:
        """Run the cell and show what it printed as Markdown."""
        text = printed(ipython, cell)
        if text:
            display(Markdown(text))

    ipython.register_magic_function(html_output, magic_kind="cell")
    ipython.register_magic_function(markdown_output, magic_kind="cell")


def printed(ipython: InteractiveShell, cell: str) -> str:
    """Run ``cell`` as a normal cell and return what it printed; its error fails the cell."""
    with capture_output(stdout=True, stderr=False, display=False) as captured:
        result = ipython.run_cell(cell, store_history=False)
    result.raise_error()
    return captured.stdout
