"""The site: a strict build of both languages, and a failing code block fails the build."""

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, build_site

pytestmark = pytest.mark.slow

PAGES = [
    "",
    "lessons/01-token-by-token/",
    "lessons/02-nonsense-texter/",
    "lessons/03-properties-of-texts/",
    "lessons/04-neural-networks/",
    "lessons/05-word-embeddings/",
    "lessons/06-attention/",
    "lessons/07-notebooks-colab/",
    "lessons/08-tokenize-continue/",
    "lessons/09-fine-tuning/",
    "lessons/09-instruction-tuning/",
    "lessons/10-review-outlook/",
    "build/tokenizer/",
    "build/gpt/",
    "build/pretrained/",
    "build/gpu/",
    "glossary/",
]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_exists_in_both_languages(built_site, page):
    german = (built_site / page / "index.html").read_text(encoding="utf-8")
    english = (built_site / "en" / page / "index.html").read_text(encoding="utf-8")
    assert '<html lang="de"' in german
    assert '<html lang="en"' in english
    # the language switch leads to the same page in the other language (on the start
    # pages through the path of site_url, here the default "/")
    link = f"{'../' * page.count('/')}en/{page}" if page else "/en/"
    assert f'href="{link}" hreflang="en"' in german
    back = f"{'../' * (page.count('/') + 1)}{page}" if page else "/"
    assert f'href="{back}" hreflang="de"' in english


@pytest.mark.parametrize("page", PAGES)
def test_pages_have_the_same_sections_in_both_languages(built_site, page):
    def section_count(html: str) -> list[int]:
        return [len(re.findall(f"<h{level}[ >]", html)) for level in (1, 2, 3)]

    german = (built_site / page / "index.html").read_text(encoding="utf-8")
    english = (built_site / "en" / page / "index.html").read_text(encoding="utf-8")
    assert section_count(german) == section_count(english)


def test_titles(built_site):
    assert "<title>Hinter den Kulissen von ChatGPT</title>" in (
        built_site / "index.html"
    ).read_text(encoding="utf-8")
    assert "<title>Behind the Scenes of ChatGPT</title>" in (
        built_site / "en" / "index.html"
    ).read_text(encoding="utf-8")


def test_no_resource_from_another_host(built_site):
    """Scripts, styles, images, frames and fonts all come from the site itself."""
    resource = re.compile(r'<(?:script|img|iframe|source|link)\b[^>]*\b(?:src|href)="([^"]+)"')
    for html_file in built_site.rglob("*.html"):
        for tag in resource.finditer(html_file.read_text(encoding="utf-8")):
            url = tag.group(1)
            if "<link" in tag.group(0) and re.search(r'rel="(canonical|alternate)"', tag.group(0)):
                continue
            assert not re.match(r"^(https?:)?//", url), f"{html_file}: {tag.group(0)}"
    for css in built_site.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", css.read_text(encoding="utf-8"))


def test_browser_runtime_is_in_the_site(built_site):
    for name in ["pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]:
        assert (built_site / "pyodide" / name).is_file()
    assert list((built_site / "browser").glob("lessons-*-py3-none-any.whl"))
    assert (built_site / "browser" / "corpora" / "kafka-die-verwandlung.txt").is_file()


def test_failing_code_block_fails_the_build(tmp_path):
    """With the site's own settings, a code block that raises stops the strict build."""
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!ENV", lambda loader, node: loader.construct_sequence(node)[-1])
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=loader)
    for key in ("nav", "hooks", "extra_css", "extra_javascript"):
        config.pop(key, None)
    config["theme"]["custom_dir"] = str(ROOT / "overrides")
    config["docs_dir"] = str(tmp_path / "docs")
    docs = Path(config["docs_dir"])
    docs.mkdir()
    for lang in ("de", "en"):
        (docs / f"index.{lang}.md").write_text(
            f"# Test {lang}\n\n```python exec=\"on\"\nraise RuntimeError('kaputt-{lang}')\n```\n",
            encoding="utf-8",
        )
    config_file = tmp_path / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = build_site(config_file, tmp_path / "site")
    assert result.returncode != 0
    assert "kaputt-de" in result.stdout + result.stderr
