"""Figures and tables for the pages: what they show, and that text in them is escaped."""

import matplotlib.pyplot as plt
import pytest

from lessons import plots

BEFORE = [("␣the", 0.4), ("␣her", 0.3), ("␣a", 0.2), ("␣x", 0.06), ("␣y", 0.04)]
AFTER = [("␣the", 0.5), ("␣her", 0.375), ("␣a", 0.125)]


def bar_heights(ax) -> list[float]:
    return [round(patch.get_height(), 6) for patch in ax.patches]


def test_distributions_chart_draws_one_panel_per_distribution():
    fig = plots.distributions_chart([BEFORE, AFTER], titles=["before", "after"], top=3)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["before", "after"]
    assert bar_heights(fig.axes[0]) == [0.4, 0.3, 0.2]  # only the top 3, no rest bar
    assert [tick.get_text() for tick in fig.axes[1].get_xticklabels()] == ["␣the", "␣her", "␣a"]
    plt.close(fig)


def test_distributions_chart_sums_up_the_rest_and_hatches_what_a_filter_drops():
    kept = {"␣the", "␣her", "␣a", "␣x"}
    fig = plots.distributions_chart(
        [BEFORE], titles=["top-p"], kept=[kept], top=2, rest_label="{n} more", legend=("in", "out")
    )
    ax = fig.axes[0]
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert labels == ["␣the", "␣her", "3 more"]
    # two bars, then the rest as kept (␣a, ␣x) and dropped (␣y) parts stacked
    assert bar_heights(ax) == [0.4, 0.3, 0.26, 0.04]
    assert [bool(patch.get_hatch()) for patch in ax.patches] == [False, False, False, True]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["in", "out"]
    plt.close(fig)


def test_distributions_chart_marks_dropped_tokens_among_the_shown():
    fig = plots.distributions_chart([BEFORE], titles=[""], kept=[{"␣the"}], top=3)
    assert [bool(patch.get_hatch()) for patch in fig.axes[0].patches] == [False, True, True]
    plt.close(fig)


def test_distributions_chart_needs_a_title_per_panel():
    with pytest.raises(ValueError, match="one entry per panel"):
        plots.distributions_chart([BEFORE, AFTER], titles=["only one"])


def test_distributions_chart_becomes_an_svg_figure():
    fig = plots.distributions_chart([BEFORE], titles=["T = 1"], rest_label="{n} weitere")
    html = plots.figure(fig, "Bildunterschrift", "Alternativtext")
    assert html.startswith('<figure class="lesson-figure"><svg role="img"')
    assert 'aria-label="Alternativtext"' in html and "<figcaption>Bildunterschrift<" in html


def test_token_table_shows_each_token_in_a_box_and_escapes_them():
    rows = [("German", ["Die", " Schwes", "ter"]), ("<b>", ["a<b>", "\n"])]
    table = plots.token_table(rows, headers=("Language", "Tokens", "Split"), caption="Cap & more")
    assert table.startswith('<div class="token-table"><figure class="lesson-figure"><table>')
    assert "<th>Language</th><th>Tokens</th><th>Split</th>" in table
    assert (
        '<td>German</td><td>3</td><td><span class="token-pieces">'
        "<span>Die</span><span>␣Schwes</span><span>ter</span></span></td>"
    ) in table
    assert "<td>&lt;b&gt;</td><td>2</td>" in table
    assert "<span>a&lt;b&gt;</span><span>↵</span>" in table
    assert "<figcaption>Cap &amp; more</figcaption>" in table
    assert "<b>" not in table


def test_text_table_escapes_cells_and_shows_line_breaks():
    table = plots.text_table([("a<b", "one\ntwo")], headers=("x", "y"))
    assert table == (
        "<table><thead><tr><th>x</th><th>y</th></tr></thead>"
        "<tbody><tr><td>a&lt;b</td><td>one↵two</td></tr></tbody></table>"
    )


def test_preference_chart_draws_solid_and_dashed_lines_in_the_given_labels():
    fig = plots.preference_chart(
        [0, 5, 10],
        [0.0, 1.0, 2.0],
        [0.0, -1.0, -3.0],
        held_out=([0.0, 0.5, 0.8], [0.0, -0.5, -1.0]),
        labels=("bevorzugt", "abgelehnt"),
        held_out_label="{label} (zurückgehalten)",
    )
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label()[0] != "_"]  # not the 0 line
    assert [line.get_label() for line in lines] == [
        "bevorzugt",
        "abgelehnt",
        "bevorzugt (zurückgehalten)",
        "abgelehnt (zurückgehalten)",
    ]
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--", "--"]
    assert list(lines[1].get_ydata()) == [0.0, -1.0, -3.0]
    assert lines[0].get_color() == lines[2].get_color() != lines[1].get_color()
    plt.close(fig)


def test_accuracy_chart_draws_grey_baselines_then_methods_with_their_percentages():
    fig = plots.accuracy_chart(
        {"immer die häufigste Klasse": 0.5, "Wortbeutel": 0.9, "GPT": 0.8}, baselines=2
    )
    ax = fig.axes[0]
    bars = ax.patches
    assert [round(bar.get_width(), 6) for bar in bars] == [0.5, 0.9, 0.8]
    assert bars[0].get_y() > bars[1].get_y() > bars[2].get_y()  # the first on top
    assert bars[0].get_facecolor() == bars[1].get_facecolor() != bars[2].get_facecolor()
    assert [text.get_text() for text in ax.texts] == ["50%", "90%", "80%"]
    assert ax.get_yticklabels()[0].get_text() == "immer die häufigste Klasse"
    assert list(ax.get_yticks()) == [2, 1, 0]
    plt.close(fig)
