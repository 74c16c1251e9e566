"""The ``lessons`` command: generate from a file of your own, and clear errors."""

from lessons.cli import main


def test_markov_from_a_file(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("abracadabra " * 20, encoding="utf-8")
    args = ["markov", "--file", str(text), "--order", "2", "--length", "40", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    assert len(first.strip()) == 42


def test_markov_shows_next_tokens(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 5, encoding="utf-8")
    args = ["markov", "--file", str(text), "--level", "words", "--order", "1", "--length", "5"]
    assert main([*args, "--start", "the", "--next"]) == 0
    assert "next:" in capsys.readouterr().out


def test_bad_input_gives_a_message_not_a_traceback(tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("abc", encoding="utf-8")
    assert main(["markov", "--file", str(text), "--order", "5"]) == 2
    assert "needs at least 6" in capsys.readouterr().err
    assert main(["markov", "--corpus", "no-such-text"]) == 2
    assert "kafka-die-verwandlung" in capsys.readouterr().err  # the known ids are listed
    assert main(["markov", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
