"""The running node: settings, storage, accounts, HTTP assembly and the command line."""
