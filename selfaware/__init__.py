"""selfaware: behavioral self-awareness experiments as a platform. Shared contracts and plumbing live here;
the four services live in `services/`."""
