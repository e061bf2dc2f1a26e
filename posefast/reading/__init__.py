"""Reading inputs: image files and arrays as RGB pixels, and the command line's INPUT
arguments (files, folders, globs, ``@lists``, videos) as the list of things to pose;
``files`` says what a path that is not a regular file is (a FIFO, a device)."""
