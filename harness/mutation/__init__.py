"""Mutation testing of the C core and the ``honch`` wrapper against the conformance suite.

``honch-hil mutation`` (``make mutation``): universalmutator mutates ``core/src``,
mutmut's generator mutates ``honch/``; each mutant is built into its own directory
(:mod:`.build`), and the conformance tests that reach its line on the ``host`` board
(:mod:`.coverage`) run against it (:mod:`.campaign`).
"""
