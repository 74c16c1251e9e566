"""MkDocs hook: every lesson and build page also as a Jupyter notebook (``lessons.notebooks``).

- ``on_page_markdown``: under the page's title, a line with a link that downloads the page's
  notebook from the site and, where the repository is set, one that opens its copy in Colab;
- ``on_post_build``: writes the notebooks of the pages just built into
  ``notebooks/<lang>/<page>.ipynb`` in the site. MkDocs builds each language on its own
  (mkdocs-static-i18n), so each build writes its own language's notebooks.

The repository the Colab links point to is ``extra.repository`` (and ``extra.branch``) in
``mkdocs.yml``; empty means not set.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.utils import get_relative_url

from lessons import notebooks

_built: list[tuple[str, str]] = []  # (page, lang) of the pages of the current build


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    source = Path(page.file.abs_src_path).relative_to(config["docs_dir"]).as_posix()
    found = notebooks.page_of(source)
    if found is None:
        return markdown
    _built.append(found)
    name, lang = found
    download = get_relative_url(notebooks.notebook_path(name, lang), page.url)
    repo = notebooks.Repository.from_extra(config["extra"])
    links = notebooks.page_links(name, lang, repo, download)
    title, _, rest = markdown.partition("\n")
    if not title.startswith("# "):
        return f"{links}\n\n{markdown}"
    return f"{title}\n\n{links}\n\n{rest}"


def on_post_build(config, **kwargs) -> None:
    repo = notebooks.Repository.from_extra(config["extra"])
    docs, site = Path(config["docs_dir"]), Path(config["site_dir"])
    for name, lang in _built:
        notebook = notebooks.page_to_notebook(docs, name, lang, repo)
        notebooks.write(notebook, site / notebooks.notebook_path(name, lang))
    _built.clear()
