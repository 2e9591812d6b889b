from __future__ import annotations

from xrayssl.explain.localization import LocalizationScore
from xrayssl.report.sections.ranking import localization_cells


def score(empty: int) -> LocalizationScore:
    return LocalizationScore(images=20, pointing_game=0.1, pointing_game_tolerant=0.25,
                             tolerance=4, energy_inside=0.09, chance_energy=0.03,
                             empty_cams=empty)


def test_the_energy_cell_says_how_many_empty_cams_it_leaves_out() -> None:
    pointing, energy = localization_cells(score(7))
    assert pointing.text == "0.10 / 0.25"
    assert energy.text == "0.09"
    assert energy.detail == "3.0× chance; 7 of 20 CAMs empty, left out"
    assert localization_cells(score(0))[1].detail == "3.0× chance"
