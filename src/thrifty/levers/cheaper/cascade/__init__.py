"""The escalation cascade: try a task's cheap tiers first, keep an answer the confidence
signals accept, escalate otherwise (docs/levers/cheaper-tokens.md, "Cascade").

* ``answers``: what a tier said (text, JSON, token log-probabilities), in either dialect;
* ``signals``: the confidence signals (validators, self-reported confidence, logprobs);
* ``agreement``: a second cheap answer that must agree with the first;
* ``scorer``: the learned scorer fitted by ``thrifty eval route --fit-cascade`` (``fit``);
* ``plan``: a task's tiers and signals from its settings, checked at start-up;
* ``stage``: the pipeline stage (tiers in turn, booking, streaming);
* ``report``: the escalation rate per task, for ``thrifty report``.
"""
