"""One module per `hv` subcommand, each with `register(subparsers)`; hv/cli.py lists them."""
