"""The batch job behind ``posefast run``: records, the worker runner, output writers
and progress."""
