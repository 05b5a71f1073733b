"""Small shared helpers (private)."""
