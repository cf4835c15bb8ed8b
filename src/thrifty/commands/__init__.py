"""Command-line subcommands that have grown beyond a few lines, one module each."""
