"""Date and time formats of the console (Django's FORMAT_MODULE_PATH): ISO dates, seconds in every time."""
