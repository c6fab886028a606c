"""The alignment (moderation) layer: checks what users ask and what the model answers."""
