"""Custom Rasa components of the project (named by class path in config.yml and endpoints.yml).

Importing the package installs the project's changes to Rasa's own code, all listed in `components/rasa_patches.py`,
after checking that the installed Rasa is the release they were written for: Rasa imports this package when it loads
any of the project's components, so they are in place in `rasa train`, `rasa run` and the tests alike.
"""

from components import rasa_patches

rasa_patches.install()
