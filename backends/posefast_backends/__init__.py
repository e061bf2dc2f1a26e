"""Built-in inference backends (issue 3), registered under the entry-point group
``posefast.backends`` exactly as a third-party plugin would be."""
