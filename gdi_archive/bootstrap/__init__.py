"""Setting up a fresh archive (`manage.py bootstrap`): the top of the house, free to import every app below."""
