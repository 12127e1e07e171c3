# the source model with batch-norm statistics from the target tiles (AdaBN)
kind=adabn method=adabn
