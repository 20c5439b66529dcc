"""The optimization engine: rules evaluated on the mirror, recommendations with their evidence."""
