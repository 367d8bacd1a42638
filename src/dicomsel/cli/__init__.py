"""The ``dicomsel`` command line."""
