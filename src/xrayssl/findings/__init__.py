"""Reading a finished study: ``collect`` builds one ``StudyResults`` from its run folders.

``collect`` (:mod:`.collect`) reads every run folder through ``xrayssl.runs`` and derives, once,
everything a reader wants: paired tests (:mod:`.comparisons`), per-op effects (:mod:`.effects`),
the halving rungs (:mod:`.rung_results`), the policies ranked over their seeds
(:mod:`.policy_ranking`), the answer on test (:mod:`.answer`) and the Grad-CAM summary
(:mod:`.gradcam`). The result (:mod:`.model`) is plain data: ``study results`` writes it as
tables (:mod:`.results_tables`) and the report renders it; neither derives anything of its own.
"""
