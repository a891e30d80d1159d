"""The store on SQLite: summaries computed by numpy over packed minutes, everything on threads."""
