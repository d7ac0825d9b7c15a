"""ml-architect: renders complete, working ML projects from this repository's Copier template."""

__version__ = "0.2.0"
