"""One module per `chipsim` subcommand: `add_parser(sub)` declares it, `run(args)` does it."""
