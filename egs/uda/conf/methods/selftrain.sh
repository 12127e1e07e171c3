# self-training from the source model: a mean teacher's confident
# pseudo-labels on the target, ClassMix, strong augmentation (docs/methods.md)
kind=init method=selftrain epochs=6
train_opts="--select last"
