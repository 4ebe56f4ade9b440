"""The hospital interface (national-platform style ``POST /fsi/api/{infno}``), one module per idea.

Importing the package imports nothing else: ``yidi.client`` uses ``yidi.interface.signing`` without the server.
See docs/architecture.md ("The hospital interface package") for the map of modules.
"""
