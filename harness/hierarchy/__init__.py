"""Hierarchical labels: a tree over the competition's classes (`tree`), read from a CSV of
child,parent rows (any depth), and what it lets a run do.

- Train at one level (`data.level`: the trunk is level 1) or one branch (`data.branch`: the
  leaves under one node, from its images alone): `labels`.
- Read any level off a leaf run (the leaves' probabilities summed under each node), or route
  each image through a trunk run to the branch run of the node it picks: `combine`, behind
  `harness hierarchy`. Either way a predicted leaf implies its parents.
"""
