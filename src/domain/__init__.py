"""Pure domain model of ScoreMate: entities, value objects, rules and errors (stdlib only)."""
