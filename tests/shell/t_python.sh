# The Python reader (python/landshift_frames.py) against GDAL's reading of the same windows.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
$BIN/tile --size 256 --overlap 32 --labels "$A/rgb_nadir10_buildings.geojson" "$A/rgb_nadir10.tif" >"$T/t.frames"
if PYTHONPATH=python $PY - "$T/t.frames" "$A/rgb_nadir10.tif" <<'PY'
import sys
import numpy as np
from osgeo import gdal
from landshift_frames import read_frames
frames = list(read_frames(sys.argv[1]))
ds = gdal.Open(sys.argv[2])
assert len(frames) == 16, len(frames)
for f in frames:
    x, y = f["off"]
    w = min(256, ds.RasterXSize - x); h = min(256, ds.RasterYSize - y)
    ref = ds.ReadAsArray(x, y, w, h)
    assert f["array"].dtype == np.uint8 and f["array"].shape == (3, 256, 256)
    assert np.array_equal(f["array"][:, :h, :w], ref), f["key"]
    assert f["label"] is not None and set(np.unique(f["label"])) <= {0, 1, 255}
    assert f["gt"][0] == ds.GetGeoTransform()[0] + x * 0.5
PY
then pass "Python reader: 16 tiles equal GDAL's reading of the same windows, labels and geotransforms included"
else fail "Python reader" "mismatch"; fi
head -c 200000 "$T/t.frames" >"$T/cut.frames"
if PYTHONPATH=python $PY -c "
import sys
from landshift_frames import read_frames, FrameError
try:
    list(read_frames('$T/cut.frames')); sys.exit(1)
except FrameError as e:
    sys.exit(0 if 'truncated' in str(e) or 'trailer' in str(e) else 1)"; then
	pass "Python reader refuses a cut stream"
else
	fail "Python reader truncation" "accepted"
fi
