# self-training that keeps the source model's batch-norm statistics (for
# targets where AdaBN's statistics cost)
kind=init method=selftrain epochs=6
train_opts="--select last --no-target-bn"
