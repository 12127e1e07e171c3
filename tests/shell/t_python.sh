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
# a Python stage in a pipe: frames read lazily from stdin, changed, written;
# the C reader takes what it writes; the CRC is CRC-32C's
if $BIN/tile --quiet --size 256 "$A/rgb_nadir10.tif" | PYTHONPATH=python $PY -c "
import sys
import numpy as np
from landshift_frames import read_frames, FrameWriter, crc32c
assert crc32c(b'123456789') == 0xE3069283
big = bytes(range(256)) * 4000   # the lanes path against the byte loop
from landshift_frames import _raw
assert crc32c(big) == _raw(0xFFFFFFFF, big) ^ 0xFFFFFFFF
with FrameWriter(sys.stdout.buffer) as w:
    for f in read_frames('-'):
        f['array'] = (255 - f['array']).astype(np.uint8)
        f['chain'] = f['chain'] + ['python']
        w.write(f)" >"$T/py.frames" 2>"$T/py.err" && $BIN/frame-info --check "$T/py.frames" &&
	[ "$($BIN/frame-info --quiet --no-stats "$T/py.frames" | grep -c '"chain":\["tile","python"\]')" -eq 16 ]; then
	pass "Python: read from stdin, inverted and written back: 16 frames the C reader accepts, CRC-32C's check value"
else
	fail "Python writer" "$(tail -n 2 "$T/py.err")"
fi
# lazily: the first frame arrives while the producer is still writing
if { cat "$T/t.frames"; sleep 4; } | PYTHONPATH=python $PY -c "
import time; t0 = time.time()
from landshift_frames import read_frames
it = iter(read_frames('-')); next(it); print('%.1f' % (time.time() - t0))
for f in it: pass" >"$T/lazy.out" 2>&1 && $PY -c "import sys; sys.exit(float(open('$T/lazy.out').read()) > 2.5)"; then
	pass "Python reader yields the first frame before the stream ends (after $(cat "$T/lazy.out") s; memory of one frame)"
else
	fail "Python reader lazy" "$(cat "$T/lazy.out")"
fi
if head -c 150000 "$T/t.frames" | PYTHONPATH=python $PY -c "
import sys
from landshift_frames import read_frames, FrameError
try:
    list(read_frames('-')); sys.exit(1)
except FrameError as e:
    sys.exit(0 if 'truncated' in str(e) else 1)"; then
	pass "Python reader refuses a cut stream on stdin"
else
	fail "Python reader, cut stdin" "accepted"
fi
