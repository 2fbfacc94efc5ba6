"""The simulated Aurora (rds_sim) behaves like Aurora as a caller observes it."""
