"""Federation: node identity and keys, signed update logs, HTTP message signatures, peers, push
delivery, pull catch-up, and applying remote updates."""
