"""The mutation run (`make mutation`): catalogue.py lists the hand-placed mutants, runner.py runs them."""
