"""Training SRGAN generators: configuration, the loop, checkpoints and distributed set-up."""
