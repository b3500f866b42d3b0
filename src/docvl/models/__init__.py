"""Model families (registry), tiny test models (tiny) and the page chat messages (messages)."""
