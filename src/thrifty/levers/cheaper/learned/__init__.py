"""The learned router: from the prompt alone, the cheapest model predicted adequate.

* :mod:`.router_file`: the router file (JSON, no code), written by ``thrifty route train``
  and read by the stage, with every field bounded and checked;
* :mod:`.predictors`: the prompt routers of ``thrifty eval route`` restored from a file
  (TF-IDF), and the same router on MiniLM sentence embeddings (training and live use);
* :mod:`.stage`: the pipeline stage (``[tasks.T.learned_routing]``);
* :mod:`.command`: ``thrifty route train``.
"""
