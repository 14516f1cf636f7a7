"""Pure functions returning components, one screen region each."""
