"""The ``tempvl-bench`` command line: the parser and main (:mod:`.app`), the data and
pretraining commands (:mod:`.commands`), ``score`` (:mod:`.score`) and task-file expansion."""
