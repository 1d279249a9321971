"""The run directory: ``layout`` names its files, ``summary`` types and reads ``summary.json``,
``listing`` lists the runs in a directory.

The three modules sit at different layers (see docs/architecture.md): the trace tools read files whose
names ``layout`` gives, and ``listing`` reads trace headers. So this package imports none of them.
"""
