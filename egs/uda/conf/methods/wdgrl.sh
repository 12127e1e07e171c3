# WDGRL with the critic on every encoder level (its best variant), from scratch
kind=train method=wdgrl
train_opts="--select last --critic-features all"
