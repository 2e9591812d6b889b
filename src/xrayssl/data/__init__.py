"""Loading X-ray collections into records, and preparing them into a cache."""
