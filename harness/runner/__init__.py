"""``honch-hil run``: the conformance suite on the selected boards, with reports."""
