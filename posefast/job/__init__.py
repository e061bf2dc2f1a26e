"""The batch job behind ``posefast run``: the runner and its stages (``slots``,
``preparation``, ``inference``, ``scheduler``), the tasks, records, output writers
and progress."""
