# source-only training on source tiles zoomed at random by 0.8 to 1.25
# (critic-train --scale-jitter 0.25): trained per pair, like FDA's runs
kind=train method=source-only
train_opts="--select last --scale-jitter 0.25"
