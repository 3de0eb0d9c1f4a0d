"""The web app (FastAPI, GOV.UK Frontend): thin HTTP over `Project` and the app's state."""
