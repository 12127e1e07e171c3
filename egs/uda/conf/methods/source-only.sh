# the source model, trained on the source's labels alone, mapping the target
kind=map method=source-only
