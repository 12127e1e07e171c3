# the default (self-training keeping the source's batch-norm statistics)
# twice as long: 12 epochs from the source model instead of 6
kind=init method=selftrain epochs=12
train_opts="--select last --no-target-bn"
