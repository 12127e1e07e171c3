# trained on the target's labels of the part adapted to, with the source
# model's steps (an upper reference, not a method: it reads target labels)
kind=oracle method=oracle
