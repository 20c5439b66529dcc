"""Reports: definitions, Meta's rules for them, and the ones each tenant reads."""
