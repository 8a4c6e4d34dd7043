"""bench.run.near: a verdict's figure never prints the target it misses (or meets) by less than its
rounding."""

from bench.run import near


def test_a_figure_that_would_round_to_its_target_gets_one_decimal_more():
    assert near(0.4996, 0.5, pct=True) == "49.96%"  # as many as it takes, up to three
    assert near(0.4984, 0.5, pct=True) == "49.8%"
    assert near(0.5012, 0.5, pct=True) == "50.1%"
    assert near(3.04, 3, pct=False) == "3.04"
    assert near(4.96, 5, pct=False) == "4.96"


def test_other_figures_print_as_before():
    assert near(0.46, 0.5, pct=True) == "46%"
    assert near(0.5, 0.5, pct=True) == "50%"
    assert near(2.9, 3, pct=False) == "2.9"
    assert near(4.1, 5, pct=False) == "4.1"
    assert near(33.2, 10, pct=False) == "33.2"
