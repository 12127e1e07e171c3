# the source model trained on the bands the target has (a band constant over
# every target raster left out), mapping the target; where the target has
# every band, source-only's run
kind=map method=source-only bands=shared base=source-only
