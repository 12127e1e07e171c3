# the default (self-training keeping the source's batch-norm statistics)
# with its source tiles in target tiles' low frequencies (FDA, beta 0.01)
kind=init method=selftrain epochs=6
train_opts="--select last --no-target-bn --fda 0.01"
