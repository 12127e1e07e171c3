# self-training with class-balanced pseudo-labels: the most confident half
# of each class's pixels (CBST) instead of a probability threshold
kind=init method=selftrain epochs=6
train_opts="--select last --pl-class-share 0.5"
