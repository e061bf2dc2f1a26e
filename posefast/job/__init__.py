"""The batch job behind ``posefast run``, whichever engine runs it: records, the plan
(resume, counts, backend threads), the local worker runner, output writers (JSON
Lines, COCO, Parquet) and progress. The Ray engine is ``posefast.ray``."""
