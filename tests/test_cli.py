"""forecastlab.cli: the arguments of a job that makes or reads every seed's files."""

import argparse

import pytest

from forecastlab.cli import add_seed_files, seed_files

ROLES = {"model": ".keras file", "hidden": "states .npz"}


def parsed(*arguments):
    parser = argparse.ArgumentParser()
    add_seed_files(parser, ROLES, optional=["hidden"])
    return parser, parser.parse_args(list(arguments))


def test_each_seed_gets_its_files_in_the_order_of_seeds_and_none_for_a_role_left_out():
    parser, args = parsed("--seeds", "43", "42", "--model", "a.keras", "b.keras")
    assert seed_files(parser, args, ROLES) == [
        {"model": "a.keras", "hidden": None},
        {"model": "b.keras", "hidden": None},
    ]


def test_another_number_of_files_than_seeds_stops_naming_the_role(capsys):
    parser, args = parsed("--seeds", "1", "2", "--model", "a", "b", "--hidden", "h")
    with pytest.raises(SystemExit) as stop:
        seed_files(parser, args, ROLES)
    assert stop.value.code == 2
    assert "--hidden needs one file per seed (2), got 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parsed("--seeds", "1")  # a required role left out: argparse's own error
