"""Reading and writing record shards."""
