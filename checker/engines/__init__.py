"""The engines: explicit search (with its visited set and symmetry reduction), BMC,
k-induction, PDR with Houdini and certificate cores, and the portfolio."""
