"""``python -m dicomsel``."""

from dicomsel.cli.main import run

if __name__ == "__main__":
    run()
