"""Deploy targets: the settings and scripts that put the trained model on a platform."""
