"""`python -m harness` and `accelerate launch -m harness` enter here."""

from harness.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
