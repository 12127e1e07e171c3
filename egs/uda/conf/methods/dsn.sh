# DSN with the critic on every encoder level and alpha 0.01 (its best variant), from scratch
kind=train method=dsn
train_opts="--select last --critic-features all --alpha 0.01"
