"""Custom Rasa components of the project (named by class path in config.yml and endpoints.yml).

Importing the package installs `rasa_speedups` (a compiled validator for action-server responses, cached event types),
`graph_runner` (Rasa's model graph run without dask's scheduler) and `session_bound` (a session starts again, slots
kept, once it holds too many events): Rasa imports this package when it loads any of the project's components.
"""

from components import graph_runner, rasa_speedups, session_bound

rasa_speedups.install()
graph_runner.install()
session_bound.install()
