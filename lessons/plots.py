"""Figures for the lesson pages: matplotlib drawn to inline SVG, with a caption and alt text.

The site shows only figures its own code makes at build time. SVG keeps them sharp,
inline SVG needs no extra file, and text drawn as paths needs no web font.
"""

from __future__ import annotations

import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

plt.rcParams.update(
    {
        "svg.hashsalt": "lessons",  # stable element ids: the same figure gives the same SVG
        "svg.fonttype": "path",
        "figure.figsize": (7.0, 3.6),
        "figure.dpi": 100,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
    }
)


def svg(fig: matplotlib.figure.Figure, alt: str) -> str:
    """The figure as an ``<svg>`` element labelled with ``alt`` for screen readers."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and doctype
    label = html.escape(alt, quote=True)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    head_end = text.index(">") + 1
    return text[:head_end] + f"<title>{html.escape(alt)}</title>" + text[head_end:]


def figure(fig: matplotlib.figure.Figure, caption: str, alt: str | None = None) -> str:
    """An HTML ``<figure>`` with the inline SVG and a caption in the page's language."""
    return (
        f'<figure class="lesson-figure">{svg(fig, alt or caption)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def token_label(token: str) -> str:
    """A token made visible: a space shows as ␣ and a line break as ↵."""
    return token.replace(" ", "␣").replace("\n", "↵") or "∅"


def distribution_chart(
    choices: list[tuple[str, float]],
    *,
    chosen: str | None = None,
    top: int = 12,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
) -> matplotlib.figure.Figure:
    """A bar chart of next-token probabilities, most likely first; the chosen token in colour."""
    shown = choices[:top]
    fig, ax = plt.subplots(figsize=(7.0, 2.8))
    labels = [token_label(token) for token, _ in shown]
    colours = ["#e8a33d" if token == chosen else "#5c6bc0" for token, _ in shown]
    ax.bar(range(len(shown)), [p for _, p in shown], color=colours)
    ax.set_xticks(range(len(shown)), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title, loc="left")
    return fig
