"""Per-account health: computed from the mirror (:mod:`.compute`), kept and read as one
document per account (:mod:`.records`)."""
