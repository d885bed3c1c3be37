"""Pure reporting logic: spells from fact histories, counting rules, buckets; no I/O."""
