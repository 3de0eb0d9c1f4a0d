"""View-models and renderers for what people read: the strategy map, board reports."""
