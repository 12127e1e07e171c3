# self-training whose source tiles wear target tiles' low frequencies (FDA, beta 0.01)
kind=init method=selftrain epochs=6
train_opts="--select last --fda 0.01"
