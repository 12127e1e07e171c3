# trained on the target's labels of the part adapted to, with the source
# model's steps (an upper reference, not a method: it reads target labels).
# Every labelled tile trains it: no validation area is held back (its last
# epoch is kept), since the eastern fifth of a sparse chip mosaic can hold
# most of its tiles (WV -> Nairobi: 31 of 37 held out, oracle IoU 0.10)
kind=oracle method=oracle
train_opts="--select last --val-frac 0"
