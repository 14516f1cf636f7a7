"""chatstream: a Reflex chat app whose replies stream live, survive reloads and are saved."""
