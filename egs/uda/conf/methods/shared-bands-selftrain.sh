# selftrain-srcbn from the source model trained on the bands the target has
# (shared-bands); where the target has every band, selftrain-srcbn's run
kind=init method=selftrain epochs=6 bands=shared base=selftrain-srcbn
train_opts="--select last --no-target-bn"
