"""DRF building blocks for every app's api modules (no module here imports the views at package import)."""
