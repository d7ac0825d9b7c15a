"""ml-architect: renders complete, working ML projects from the Copier template in this repository."""

__version__ = "0.1.0"
