"""Train state, the one train-step factory, sharding helpers and the training loop."""
