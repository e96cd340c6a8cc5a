"""A Kaggle-style leaderboard for competitions made from any labelled image set.

- `competition`, `from_folder`: make a competition folder (from an ImageFolder) and register it;
- `registry`: the definitions, `NAME/competition.toml`, in the user's board or shipped with harness (`shipped/`);
- `sample`, `validate`, `scoring`, `submit`: check a submission against the sample submission, score it
  on the hidden Public/Private key, record it;
- `board`, `show`, `page`: the rows, the ranking on the terminal, the static HTML page.

`leaderboard/README.md` describes where everything lives and defines every column.
"""
