# source-only training on source tiles with target tiles' low frequencies
# (FDA, beta 0.01): trained per pair, as it needs the pair's target
kind=train method=source-only
train_opts="--select last --fda 0.01"
