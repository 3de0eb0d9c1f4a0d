"""Tracking: baselines, targets with their trajectories, and target status, on the results."""
