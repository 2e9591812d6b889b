"""Applications built on the library: end-to-end runs that use every stage, the report included."""
