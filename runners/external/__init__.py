"""External pytest suites: a team's own smoke suite run as a subprocess, its per-test
results streamed (``pytest_plugin``) and translated into the console's events (``runner``).

Kept free of heavy imports: the pytest plugin is imported as ``runners.external.pytest_plugin``
inside the suite's own pytest process."""
