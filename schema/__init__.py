"""The coalition's domains and their GraphQL surface."""
