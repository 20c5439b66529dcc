"""The operator console (``/console`` of ``metasync web``): freshness and health of every
tenant's accounts, an account's runs, jobs and days, and the actions an operator takes."""
