"""``thrifty eval``: offline evaluations of levers on labelled data."""
