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
from matplotlib.patches import Patch  # noqa: E402
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


_DROPPED = {"edgecolor": "#5c6bc0", "hatch": "///", "linestyle": "--"}  # a token a filter drops


def distributions_chart(
    distributions: list[list[tuple[str, float]]],
    *,
    titles: list[str],
    kept: list[set[str] | None] | None = None,
    top: int = 10,
    rest_label: str = "",
    ylabel: str = "",
    legend: tuple[str, str] | None = None,
    numbers: bool = True,
) -> matplotlib.figure.Figure:
    """Several next-token distributions stacked, to compare them: before and after a setting.

    Each distribution is a list of (token, probability), most likely first; its panel shows
    the ``top`` most likely tokens, titled by ``titles``. ``kept`` gives, per panel, the
    tokens a filter keeps (or None): the others are drawn hollow and hatched, as dropped.
    ``legend`` = (kept, dropped) labels them. With a ``rest_label`` (a format string with the
    field ``n``) a grey bar sums up all other tokens, so one sees how much probability lies
    outside the shown ones (its dropped share hatched). ``numbers`` writes each probability
    above its bar.
    """
    kept = kept or [None] * len(distributions)
    if not len(distributions) == len(titles) == len(kept):
        raise ValueError("distributions, titles and kept need one entry per panel.")
    fig, axes = plt.subplots(
        len(distributions), 1, figsize=(7.0, 2.0 * len(distributions)), squeeze=False
    )
    for ax, choices, title, keep in zip(axes[:, 0], distributions, titles, kept, strict=True):
        shown = choices[:top]
        labels = [token_label(token) for token, _ in shown]
        heights = [p for _, p in shown]
        dropped = [keep is not None and token not in keep for token, _ in shown]
        bars = ax.bar(range(len(shown)), heights, width=0.7, color="#5c6bc0")
        for bar, out in zip(bars, dropped, strict=True):
            if out:
                bar.set(**_DROPPED, facecolor="none")
        rest = choices[top:]
        if rest and rest_label:
            labels.append(rest_label.format(n=len(rest)))
            heights.append(max(0.0, 1.0 - sum(heights)))
            out = sum(p for token, p in rest if keep is not None and token not in keep)
            ax.bar(len(shown), heights[-1] - out, width=0.7, color="#b0b4c8")
            ax.bar(len(shown), out, bottom=heights[-1] - out, width=0.7, **_DROPPED, color="none")
        if numbers:
            for x, height in enumerate(heights):
                ax.text(x, height + 0.03, f"{height:.0%}", ha="center", va="bottom", fontsize=8)
        long_labels = max(len(label) for label in labels) > 6
        ax.set_xticks(
            range(len(labels)),
            labels,
            rotation=25 if long_labels else 0,
            ha="right" if long_labels else "center",
            rotation_mode="anchor",
        )
        ax.set_xlim(-0.6, top + (0.6 if rest_label else -0.4))  # the same bar width in each panel
        ax.set_ylim(0, 1.15 if numbers else 1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_yticks([0, 0.5, 1])
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left", fontsize=10)
    if legend:
        handles = [
            Patch(color="#5c6bc0", label=legend[0]),
            Patch(**_DROPPED, facecolor="none", label=legend[1]),
        ]
        axes[0, 0].legend(handles=handles, frameon=False, loc="upper right")
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


def rank_frequency_chart(
    counts: dict[str, list[int]],
    *,
    fits: dict[str, tuple[float, float]] | None = None,
    fit_label: str = "{name}: {slope:.2f}",
    points: int = 200,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
) -> matplotlib.figure.Figure:
    """Zipf's picture: how often the word of each rank occurs, both axes logarithmic.

    ``counts`` maps a label to counts sorted most frequent first (rank 1 first). To keep the
    SVG small, each series shows at most ``points`` ranks, spread evenly on the log scale.
    ``fits`` gives, for some labels, a straight line log10(count) = intercept + slope *
    log10(rank) (such as ``textstats.zipf_fit``), drawn dashed in the series' colour over all
    its ranks and labelled with ``fit_label`` (a format string with the fields ``name`` and
    ``slope``).
    """
    fig, ax = plt.subplots()
    for name, values in counts.items():
        ranks = np.unique(np.geomspace(1, len(values), points).round().astype(int))
        (dots,) = ax.plot(
            ranks, np.asarray(values)[ranks - 1], "o", markersize=3, alpha=0.8, label=name
        )
        if fits and name in fits:
            slope, intercept = fits[name]
            ends = np.array([1, len(values)])
            line = 10 ** (intercept + slope * np.log10(ends))
            label = fit_label.format(name=name, slope=slope)
            ax.plot(ends, line, "--", color=dots.get_color(), linewidth=1.2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    label_axes(ax, xlabel, ylabel, title, grid="both")
    return fig


def label_axes(ax, xlabel: str, ylabel: str, title: str = "", grid: str = "y") -> None:
    """The course's finish for a chart: axis labels, a title on the left, a legend, a grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left")
    ax.legend(frameon=False)
    ax.grid(axis=grid, alpha=0.3)


def text_table(rows: list[tuple], headers: tuple[str, ...], caption: str = "") -> str:
    """An HTML table of short texts, such as generated samples next to their settings.

    Cells are escaped (a generated text may contain ``<`` or ``*``) and line breaks show as
    ↵, so long texts wrap like prose instead of running off the page. With a ``caption`` the
    table becomes a ``<figure>`` like the charts.
    """

    body = [[_cell(value) for value in row] for row in rows]
    return _html_table(body, headers, caption)


def token_table(
    rows: list[tuple[str, list[str]]], headers: tuple[str, str, str], caption: str = ""
) -> str:
    """An HTML table that shows where a tokenizer cuts texts: a label, the count, the tokens.

    Each row is (label, tokens). The tokens stand in boxes of alternating colour (the CSS
    class ``token-pieces``), so one sees where each begins; spaces and line breaks show as
    ␣ and ↵. ``headers`` name the three columns, such as ("Text", "Tokens", "Split").
    """
    body = [
        [
            _cell(label),
            str(len(tokens)),
            '<span class="token-pieces">'
            + "".join(f"<span>{html.escape(token_label(token))}</span>" for token in tokens)
            + "</span>",
        ]
        for label, tokens in rows
    ]
    return f'<div class="token-table">{_html_table(body, headers, caption)}</div>'


def _cell(value: object) -> str:
    """A table cell's text, escaped, with line breaks shown as ↵."""
    return html.escape(str(value)).replace("\n", "↵")


def _html_table(body: list[list[str]], headers: tuple[str, ...], caption: str) -> str:
    """A table of cells that are already HTML; with a caption, a ``<figure>`` like the charts."""
    head = "".join(f"<th>{_cell(header)}</th>" for header in headers)
    rows = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in body)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
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


# Digits and network weights: white is 0, the site's indigo the most ink; for weights that
# can be negative, amber below 0 and indigo above.
INK_COLOURS = matplotlib.colors.LinearSegmentedColormap.from_list(
    "ink", ["#ffffff", "#3949ab", "#1a237e"]
)
SIGNED_COLOURS = matplotlib.colors.LinearSegmentedColormap.from_list(
    "signed", ["#b26a00", "#e8a33d", "#ffffff", "#5c6bc0", "#1a237e"]
)


def image_grid(
    images,
    titles: list[str] | None = None,
    *,
    columns: int = 10,
    vmax: float = 16.0,
    signed: bool = False,
    side: float = 0.85,
) -> matplotlib.figure.Figure:
    """Small images side by side in rows of ``columns``, each with a title under it.

    ``images`` are square tables or flat rows (64 values make 8x8), such as the digits, whose
    pixels go from 0 to ``vmax``. ``signed=True`` shows values around 0, such as a neuron's
    weights: amber below 0, indigo above, white at 0, the same scale for all images.
    """
    tables = [np.asarray(image, dtype=float) for image in images]
    tables = [t.reshape(round(t.size**0.5), -1) if t.ndim == 1 else t for t in tables]
    titles = titles or [""] * len(tables)
    lines = max(title.count("\n") + 1 for title in titles)  # of the longest title
    rows = -(-len(tables) // columns)  # rounded up
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * side, rows * (side + 0.17 * lines)), squeeze=False
    )
    if signed:
        limit = max(float(np.abs(t).max()) for t in tables) or 1.0
        colours, low, high = SIGNED_COLOURS, -limit, limit
    else:
        colours, low, high = INK_COLOURS, 0.0, vmax
    for number, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if number < len(tables):
            ax.imshow(tables[number], cmap=colours, vmin=low, vmax=high)
            height, width = tables[number].shape
            below = height - 0.2  # just under the image (the rows count downwards)
            ax.text((width - 1) / 2, below, titles[number], ha="center", va="top", fontsize=8)
            ax.add_patch(  # a thin frame, so a white image still shows where it is
                matplotlib.patches.Rectangle(
                    (-0.5, -0.5), width, height, fill=False, lw=0.5, ec="#b0b4c8"
                )
            )
    fig.subplots_adjust(wspace=0.15, hspace=0.25 * lines)
    return fig


def confusion_chart(
    counts, labels: list[str], *, xlabel: str = "", ylabel: str = "", title: str = ""
) -> matplotlib.figure.Figure:
    """A confusion matrix: row = the right answer, column = the guess, the count in each cell.

    The diagonal holds the right guesses; every number off it is a mistake. Cells with 0
    stay empty, so the mistakes stand out.
    """
    table = np.asarray(counts)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.imshow(table, cmap=INK_COLOURS, vmin=0, vmax=max(int(table.max()), 1))
    for (row, column), count in np.ndenumerate(table):
        if count:
            colour = "white" if count > table.max() / 2 else "black"
            ax.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return fig


GROUP_COLOURS = ["#3949ab", "#e8a33d", "#2e7d32", "#c62828", "#6d4c41", "#00838f"]


def word_map(
    places: list[tuple[str, float, float]],
    *,
    groups: list[str] | None = None,
    title: str = "",
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.figure.Figure:
    """Words as labelled points on a flat map, such as ``embeddings.pca_2d`` of their vectors.

    ``places`` are (word, x, y). ``groups`` (one name per word) colours the points and names
    the colours in a legend. Only distances and directions count on such a map, so the axes
    show no numbers, and both use the same scale. Pass ``ax`` to draw into one panel of a
    larger figure; the figure is returned either way.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5.0))
    names = groups or [""] * len(places)
    for number, group in enumerate(dict.fromkeys(names)):  # the groups in order of appearance
        colour = GROUP_COLOURS[number % len(GROUP_COLOURS)]
        points = [(x, y) for (_, x, y), name in zip(places, names, strict=True) if name == group]
        ax.scatter(*zip(*points, strict=True), s=22, color=colour, label=group or None, zorder=2)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.apply_aspect()  # the final scale, so that the labels can be measured
    renderer = ax.figure.canvas.get_renderer()
    placed = []
    for word, x, y in places:
        label = ax.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=9)
        for step in range(1, 13):  # move a label down or up until it covers no other label
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            label.set_position((4, 3 + 5 * (step + 1) // 2 * (-1) ** step))
        placed.append(label.get_window_extent(renderer))
    ax.spines[["left", "bottom"]].set_color("#b0b4c8")
    if groups:
        ax.legend(frameon=False, fontsize=8, loc="best")
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return ax.figure


def histograms(
    series: dict[str, list[float]],
    *,
    bins: int = 30,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.figure.Figure:
    """Overlapping histograms of several lists of numbers (label -> values), with a legend.

    All lists share the same bins, and each bar shows the share of its own list, so that a
    list of 45 numbers compares with one of 1000. Pass ``ax`` to draw into one panel.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 3.2))
    values = [value for numbers in series.values() for value in numbers]
    edges = np.linspace(min(values), max(values), bins + 1)
    for label, numbers in series.items():
        shares = np.full(len(numbers), 1 / len(numbers))
        ax.hist(numbers, bins=edges, weights=shares, alpha=0.6, label=label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    ax.legend(frameon=False)
    return ax.figure


def preference_chart(
    steps: list[int],
    chosen: list[float],
    rejected: list[float],
    *,
    held_out: tuple[list[float], list[float]] | None = None,
    labels: tuple[str, str] = ("chosen", "rejected"),
    held_out_label: str = "{label}, held out",
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
) -> matplotlib.figure.Figure:
    """How preference tuning moves the log-probabilities of answers, step by step.

    ``chosen`` and ``rejected`` are the mean changes against the model before tuning (0 at
    the start); the preferred answers in green, the rejected in red, a dotted line at 0.
    ``held_out`` adds the same two lines, dashed, for pairs the tuning never saw.
    """
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.axhline(0, color="#9e9e9e", linewidth=0.8, linestyle=":")
    colours = ("#2e7d32", "#c62828")
    for label, values, colour in zip(labels, (chosen, rejected), colours, strict=True):
        ax.plot(steps, values, marker="o", markersize=3, color=colour, label=label)
    if held_out is not None:
        for label, values, colour in zip(labels, held_out, colours, strict=True):
            ax.plot(
                steps,
                values,
                linestyle="--",
                marker="s",
                markersize=3,
                color=colour,
                alpha=0.7,
                label=held_out_label.format(label=label),
            )
    label_axes(ax, xlabel, ylabel, title)
    return fig


def accuracy_chart(
    accuracies: dict[str, float], *, baselines: int = 0, xlabel: str = "", title: str = ""
) -> matplotlib.figure.Figure:
    """Horizontal bars, one per method (label -> share of right answers), the first on top.

    The first ``baselines`` bars are grey: what a classifier has to beat. Each bar carries
    its value as a percentage.
    """
    names = list(accuracies)
    values = [accuracies[name] for name in names]
    colours = ["#9e9e9e" if i < baselines else "#3949ab" for i in range(len(names))]
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(names) + 0.9))
    positions = range(len(names))[::-1]
    ax.barh(list(positions), values, color=colours, height=0.6)
    for position, value in zip(positions, values, strict=True):
        ax.text(value + 0.01, position, f"{value:.0%}", va="center", fontsize=9)
    ax.set_yticks(list(positions), names)
    ax.set_xlim(0, 1.1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, loc="left")
    ax.grid(axis="x", alpha=0.3)
    return fig
