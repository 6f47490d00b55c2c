"""Custom Rasa components of the project (named by class path in config.yml and endpoints.yml).

Importing the package installs `rasa_speedups` (a compiled validator for action-server responses): Rasa imports
this package when it loads any of the project's components.
"""

from components import rasa_speedups

rasa_speedups.install()
