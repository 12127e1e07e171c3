# self-training that keeps the source's batch-norm statistics, with a slow
# teacher (decay 0.999, DAFormer's): over six epochs it stays near the source
# model, so its pseudo-labels drift less
kind=init method=selftrain epochs=6
train_opts="--select last --no-target-bn --ema 0.999"
