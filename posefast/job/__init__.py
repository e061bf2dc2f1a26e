"""The batch job behind ``posefast run``, whichever engine runs it: records, the plan
(resume, counts, backend threads), output writers (JSON Lines, COCO, Parquet),
progress, and the local engine: the runner and its stages (``slots``,
``preparation``, ``inference``, ``scheduler``) and their tasks. The Ray engine is
``posefast.ray``."""
