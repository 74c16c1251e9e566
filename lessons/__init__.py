"""Behind the Scenes of ChatGPT: the code of the course, one module per concept.

Import the module you need (``from lessons import markov``); this package file
imports nothing heavy, so the pure-Python modules also run in the browser.
"""

__version__ = "0.1.0"
