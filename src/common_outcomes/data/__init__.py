"""Partner data returns: read, validate, pseudonymise and store them, never losing a row."""
