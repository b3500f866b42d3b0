"""`python -m docvl`: the same CLI as the `docvl` console script."""

from docvl.cli import main

main()
