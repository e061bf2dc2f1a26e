"""Reading inputs: image files and arrays as RGB pixels, the command line's INPUT
arguments (files, folders, globs, ``@lists``, videos) as the list of things to pose,
and live sources (network streams, V4L2 cameras, a pipe: ``live``, ``live_group``,
``live_names``, ``live_pipe``) frame by frame, newest first; ``files`` says what a
path that is not a regular file is (a FIFO, a device)."""
