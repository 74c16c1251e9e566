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
import numpy as np  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

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


# Attention heatmaps: white for 0, deep indigo for 1 (the site's colour), the same in every
# map; light grey for the cells a causal model may not look at.
ATTENTION_COLOURS = matplotlib.colors.LinearSegmentedColormap.from_list(
    "attention", ["#ffffff", "#9fa8da", "#3949ab", "#1a237e"]
).with_extremes(bad="#e4e4e4")


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


def steps_chart(
    steps: list,
    *,
    top: int = 8,
    title: str = "{step}: {context} → {token}",
    rest_label: str = "",
    ylabel: str = "",
) -> matplotlib.figure.Figure:
    """One small bar chart per step, stacked: what the model could choose, and what it chose.

    ``steps`` are objects with ``context``, ``choices`` ([(token, p)], most likely first) and
    ``token`` (``markov.Step``, or anything shaped like it, such as a GPT's steps later on).
    Each panel shows the ``top`` most likely tokens; the chosen token (in colour) always gets
    a bar of its own, even when it is a rare one. ``title`` is a format string with the fields
    ``step`` (1, 2, ...), ``context``, ``token`` and ``p`` (the chosen token's probability, a
    float: write ``{p:.0%}``). If ``rest_label`` is given (a format string with the field
    ``n``), all other tokens are summed into one grey bar with that label, so every panel
    shows the whole distribution.
    """
    steps = list(steps)
    fig, axes = plt.subplots(len(steps), 1, figsize=(7.0, 1.8 * len(steps)), squeeze=False)
    for number, (ax, step) in enumerate(zip(axes[:, 0], steps, strict=True), start=1):
        shown = step.choices[:top]
        if step.token not in dict(shown):  # a rare choice: show it in the last place
            shown = shown[: top - 1] + [(step.token, dict(step.choices).get(step.token, 0.0))]
        labels = [token_label(token) for token, _ in shown]
        heights = [p for _, p in shown]
        colours = ["#e8a33d" if token == step.token else "#5c6bc0" for token, _ in shown]
        rest = len(step.choices) - len(shown)
        if rest and rest_label:
            labels.append(rest_label.format(n=rest))
            heights.append(max(0.0, 1.0 - sum(heights)))
            colours.append("#b0b4c8")
        ax.bar(range(len(heights)), heights, width=0.7, color=colours)
        long_labels = max(len(token_label(token)) for token, _ in shown) > 5
        ax.set_xticks(
            range(len(heights)),
            labels,
            rotation=25 if long_labels else 0,
            ha="right" if long_labels else "center",
            rotation_mode="anchor",
        )
        for tick, (token, _) in zip(ax.get_xticklabels(), shown, strict=False):
            if token == step.token:  # the chosen token stays visible even with a tiny bar
                tick.set_fontweight("bold")
                tick.set_color("#b86e00")
        ax.set_xlim(-0.6, top + (0.6 if rest_label else -0.4))  # the same bar width in every panel
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_yticks([0, 0.5, 1])
        ax.set_ylabel(ylabel)
        p = dict(step.choices).get(step.token, 0.0)
        text = title.format(
            step=number, context=token_label(step.context), token=token_label(step.token), p=p
        )
        ax.set_title(text, loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def line_chart(
    series: dict[str, tuple[list, list]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    percent: bool = False,
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.figure.Figure:
    """Lines with dots, one per entry of ``series`` (label -> (xs, ys)), with a legend.

    ``percent=True`` shows the y values (shares from 0 to 1) as percentages. Pass ``ax`` to
    draw into one panel of a larger figure; the figure is returned either way.
    """
    if ax is None:
        fig, ax = plt.subplots()
    markers = "osD^v"
    for number, (label, (xs, ys)) in enumerate(series.items()):
        ax.plot(xs, ys, marker=markers[number % len(markers)], markersize=4, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if percent:
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if title:
        ax.set_title(title, loc="left")
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return ax.figure


def text_table(rows: list[tuple], headers: tuple[str, ...], caption: str = "") -> str:
    """An HTML table of short texts, such as generated samples next to their settings.

    Cells are escaped (a generated text may contain ``<`` or ``*``) and line breaks show as
    ↵, so long texts wrap like prose instead of running off the page. With a ``caption`` the
    table becomes a ``<figure>`` like the charts.
    """

    def cell(value: object) -> str:
        return html.escape(str(value)).replace("\n", "↵")

    head = "".join(f"<th>{cell(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if not caption:
        return table
    caption = f"<figcaption>{html.escape(caption)}</figcaption>"
    return f'<figure class="lesson-figure">{table}{caption}</figure>'


def attention_heatmap(
    weights,
    tokens: list[str],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colorbar_label: str = "",
    numbers: bool = False,
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.figure.Figure:
    """One attention table as a heatmap: row t shows how much token t looks at each token.

    ``weights`` is a (T, T) table (a tensor, an array or nested lists) whose rows add up to 1;
    ``tokens`` are the T tokens' texts, shown with ``token_label``. The cells above the
    diagonal (later tokens, which a causal model never sees) stay light grey. The colours go from
    0 to 1 in every heatmap, so two heatmaps can be compared by eye. ``numbers=True`` writes
    each weight into its cell as a percentage (for small tables). Pass ``ax`` to draw into one
    panel of a larger figure; then no colour bar is drawn (``attention_grid`` adds one).
    """
    table = np.asarray(weights, dtype=float)
    size = len(tokens)
    if table.shape != (size, size):
        raise ValueError(f"weights must have shape ({size}, {size}), not {table.shape}.")
    future = np.triu(np.ones((size, size), dtype=bool), k=1)
    own_figure = ax is None
    if own_figure:
        side = min(7.0, 1.6 + 0.42 * size)
        fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(np.ma.masked_where(future, table), cmap=ATTENTION_COLOURS, vmin=0, vmax=1)
    labels = [token_label(token) for token in tokens]
    ax.set_xticks(range(size), labels, rotation=90)
    ax.set_yticks(range(size), labels)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    if numbers:
        for row in range(size):
            for col in range(row + 1):
                value = table[row, col]
                colour = "white" if value > 0.55 else "black"
                text = f"{value:.0%}"
                ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=9)
    if own_figure:
        bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, format=PercentFormatter(1.0))
        bar.set_label(colorbar_label)
        bar.outline.set_visible(False)
    return ax.figure


def attention_grid(
    maps: list,
    tokens: list[str],
    *,
    titles: list[str] | None = None,
    columns: int = 2,
    xlabel: str = "",
    ylabel: str = "",
    colorbar_label: str = "",
) -> matplotlib.figure.Figure:
    """Several attention heatmaps in one figure (heads, layers), with one shared colour bar.

    ``maps`` are (T, T) tables for the same ``tokens``, drawn left to right and top to bottom
    in ``columns`` columns; ``titles`` name the panels, such as "Layer 1, head 3". Token labels
    appear on the left and bottom edge only; the axis labels too.
    """
    rows = -(-len(maps) // columns)  # rounded up
    side = min(4.2, 1.0 + 0.3 * len(tokens))
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * side + 1.2, rows * side), squeeze=False
    )
    titles = titles or [""] * len(maps)
    for number, ax in enumerate(axes.flat):
        if number >= len(maps):
            ax.set_axis_off()
            continue
        row, column = divmod(number, columns)
        attention_heatmap(
            maps[number],
            tokens,
            title=titles[number],
            xlabel=xlabel if row == rows - 1 else "",
            ylabel=ylabel if column == 0 else "",
            ax=ax,
        )
        if column > 0:
            ax.set_yticklabels([])
        if row < rows - 1 and number + columns < len(maps):
            ax.set_xticklabels([])
    mappable = matplotlib.cm.ScalarMappable(
        norm=matplotlib.colors.Normalize(0, 1), cmap=ATTENTION_COLOURS
    )
    bar = fig.colorbar(mappable, ax=axes, shrink=0.6, format=PercentFormatter(1.0))
    bar.set_label(colorbar_label)
    bar.outline.set_visible(False)
    return fig
