"""Static facts about a module, computed from the stdlib `ast` and shared by the rules."""
