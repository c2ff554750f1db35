"""People and tools: roles (viewer, engineer, admin), API tokens, login throttling."""
